import type { Duplex } from 'node:stream'
import type { Channel } from '../link/index.ts'

/**
 * Join a byte stream (a TCP socket, the CLI's connection) and a channel, both ways, with
 * backpressure: the socket is paused while the channel's buffer is full, and the channel is
 * not read while the socket's is. Ends propagate; an error on either side resets the other.
 */
export function pipeChannel (socket: Duplex, channel: Channel): Promise<void> {
  const toChannel = (async () => {
    try {
      for await (const chunk of socket as AsyncIterable<Buffer>) await channel.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      channel.end()
    } catch (err) {
      channel.reset((err as Error).message)
    }
  })()
  const toSocket = (async () => {
    try {
      for await (const chunk of channel) {
        if (!socket.write(chunk)) await new Promise<void>(resolve => { socket.once('drain', resolve); socket.once('close', resolve) })
      }
      socket.end()
    } catch {
      socket.destroy()
    }
  })()
  return Promise.all([toChannel, toSocket]).then(() => { socket.destroy() })
}
