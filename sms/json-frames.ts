import type { Channel } from '../link/index.ts'
import { MAX_SYNC_FRAME_BYTES } from './constants.ts'
import { SyncProtocolError } from './errors.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** One JSON value behind a 4-byte big-endian length. */
export function encodeJsonFrame (value: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(value))
  if (body.byteLength > MAX_SYNC_FRAME_BYTES) throw new SyncProtocolError('frame too large')
  const frame = new Uint8Array(4 + body.byteLength)
  new DataView(frame.buffer).setUint32(0, body.byteLength)
  frame.set(body, 4)
  return frame
}

/**
 * The JSON frames arriving on a channel, a batch at a time (every frame complete in what has
 * arrived), so the receiver can store a batch in one transaction.
 */
export async function * readJsonFrames (channel: AsyncIterable<Uint8Array>): AsyncGenerator<unknown[]> {
  let buffer = new Uint8Array(0)
  for await (const chunk of channel) {
    const joined = new Uint8Array(buffer.byteLength + chunk.byteLength)
    joined.set(buffer)
    joined.set(chunk, buffer.byteLength)
    const batch: unknown[] = []
    let at = 0
    while (joined.byteLength - at >= 4) {
      const length = new DataView(joined.buffer, joined.byteOffset + at).getUint32(0)
      if (length > MAX_SYNC_FRAME_BYTES) throw new SyncProtocolError(`frame of ${length} bytes is over the limit`)
      if (joined.byteLength - at < 4 + length) break
      let value: unknown
      try {
        value = JSON.parse(decoder.decode(joined.subarray(at + 4, at + 4 + length)))
      } catch {
        throw new SyncProtocolError('a frame is not JSON text')
      }
      batch.push(value)
      at += 4 + length
    }
    buffer = joined.slice(at)
    if (batch.length > 0) yield batch
  }
  if (buffer.byteLength > 0) throw new SyncProtocolError('the channel ended inside a frame')
}

/** Bytes handed to the channel in one write: a page of long texts is not one huge buffer. */
const MAX_WRITE_BYTES = 1024 * 1024

/** Write frames, and wait while the channel's buffer is full. */
export async function writeJsonFrames (channel: Channel, values: unknown[]): Promise<void> {
  let frames: Uint8Array[] = []
  let size = 0
  const write = async (): Promise<void> => {
    if (frames.length === 0) return
    const out = new Uint8Array(size)
    let at = 0
    for (const f of frames) { out.set(f, at); at += f.byteLength }
    frames = []
    size = 0
    await channel.write(out)
  }
  for (const value of values) {
    const frame = encodeJsonFrame(value)
    if (size + frame.byteLength > MAX_WRITE_BYTES) await write()
    frames.push(frame)
    size += frame.byteLength
  }
  await write()
}
