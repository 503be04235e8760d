import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * Noise hands the connection below it each message as a list of pieces (length prefix,
 * ciphertext per input chunk, tag), and the TCP connection makes one `socket.write`, so one
 * system call, per piece: three to six per message. Measured, that is where a bulk stream's
 * time went. Joining the pieces first (one copy of at most 64 KiB) makes it one write.
 */
function wholeWrites (connection: MessageStream): MessageStream {
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
