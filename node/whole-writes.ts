import { Socket } from 'node:net'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** The hook of @libp2p/utils' AbstractMessageStream through which a transport writes. */
interface SendsData {
  sendData(data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean }
}

/** A TCP connection of @libp2p/tcp: its socket is public. */
function tcpSocketOf (connection: MessageStream): Socket | undefined {
  const socket = (connection as { socket?: unknown }).socket
  return socket instanceof Socket && typeof (connection as Partial<SendsData>).sendData === 'function' ? socket : undefined
}

/**
 * Noise hands the connection below it each message as a list of pieces (length prefix,
 * ciphertext pieces, tag), and @libp2p/tcp makes one `socket.write`, so one system call, per
 * piece: three to six per message. Measured, that is where a bulk stream's time went.
 * On TCP the pieces are written corked, so Node sends them with one `writev` and nothing is
 * copied; on any other transport (a relayed link) they are joined first (one copy).
 */
function wholeWrites (connection: MessageStream): MessageStream {
  const socket = tcpSocketOf(connection)
  if (socket != null) {
    (connection as unknown as SendsData).sendData = (data) => {
      socket.cork()
      for (const piece of data) socket.write(piece)
      socket.uncork()
      // everything was handed to the socket; it says 'drain' (passed on by the connection) once its buffer empties
      return { sentBytes: data.byteLength, canSendMore: socket.writableLength < socket.writableHighWaterMark }
    }
    return connection
  }
  const send = connection.send.bind(connection)
  connection.send = (data: Uint8Array | Uint8ArrayList): boolean => send(data instanceof Uint8Array ? data : data.subarray())
  return connection
}

/** A connection encrypter whose encrypted messages reach the transport in one write each. */
export function withWholeWrites<C> (factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const inner = factory(components)
    return {
      protocol: inner.protocol,
      secureOutbound: async (connection: MessageStream, options?: SecureConnectionOptions) => await inner.secureOutbound(wholeWrites(connection), options),
      secureInbound: async (connection: MessageStream, options?: SecureConnectionOptions) => await inner.secureInbound(wholeWrites(connection), options)
    }
  }
}
