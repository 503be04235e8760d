import type { Channel } from '../link/index.ts'
import { MAX_SYNC_FRAME_BYTES } from './constants.ts'
import { SyncProtocolError } from './errors.ts'
import { FrameReader, lengthPrefixed } from '../framing/frames.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** One JSON value behind a 4-byte big-endian length. */
export function encodeJsonFrame (value: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(value))
  if (body.byteLength > MAX_SYNC_FRAME_BYTES) throw new SyncProtocolError('frame too large')
  return lengthPrefixed(body)
}

/**
 * The JSON frames arriving on a channel, a batch at a time (every frame complete in what has
 * arrived), so the receiver can store a batch in one transaction.
 */
export async function * readJsonFrames (channel: AsyncIterable<Uint8Array>): AsyncGenerator<unknown[]> {
  const frames = new FrameReader({ maxLength: MAX_SYNC_FRAME_BYTES, tooLong: (length) => new SyncProtocolError(`frame of ${length} bytes is over the limit`) })
  for await (const chunk of channel) {
    frames.push(chunk)
    const batch: unknown[] = []
    for (let body = frames.next(); body != null; body = frames.next()) {
      try {
        batch.push(JSON.parse(decoder.decode(body)))
      } catch {
        throw new SyncProtocolError('a frame is not JSON text')
      }
    }
    if (batch.length > 0) yield batch
  }
  if (frames.buffered > 0) throw new SyncProtocolError('the channel ended inside a frame')
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
