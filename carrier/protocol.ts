import type { Socket } from 'node:net'
import { LineReader } from '../framing/lines.ts'

/** The simulated carrier's wire format: one JSON object per line (docs/PROTOCOL.md §9). */
/** Long enough for the longest text a network delivers (39,015 units), every unit escaped in JSON. */
export const MAX_LINE_BYTES = 320 * 1024

export type CarrierMessage = Record<string, unknown> & { op: string }

export class CarrierProtocolError extends Error {
  override readonly name = 'CarrierProtocolError'
}

/** Split a socket into JSON lines; a line too long or not an object closes the socket. */
export function readLines (socket: Socket, onMessage: (msg: CarrierMessage) => void): void {
  const lines = new LineReader({ maxLength: MAX_LINE_BYTES })
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    for (const line of lines.push(chunk)) {
      let msg: unknown
      try {
        msg = JSON.parse(line)
      } catch {
        socket.destroy(new CarrierProtocolError('a line is not JSON'))
        return
      }
      if (msg == null || typeof msg !== 'object' || typeof (msg as CarrierMessage).op !== 'string') {
        socket.destroy(new CarrierProtocolError('a line is not a message'))
        return
      }
      onMessage(msg as CarrierMessage)
    }
    if (lines.overflowed) socket.destroy(new CarrierProtocolError('line too long'))
  })
}

export function writeLine (socket: Socket, msg: CarrierMessage): void {
  if (!socket.destroyed) socket.write(JSON.stringify(msg) + '\n')
}

/** `HOST:PORT` → parts; loopback and LAN hosts alike. */
export function parseHostPort (text: string): { host: string, port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text)
  const port = Number(m?.[2])
  if (m?.[1] == null || !Number.isInteger(port) || port > 65535) throw new CarrierProtocolError(`"${text}" is not HOST:PORT, e.g. 127.0.0.1:7700`)
  return { host: m[1], port }
}
