import type { Channel } from '../link/index.ts'
import { FrameReader, lengthPrefixed } from '../framing/frames.ts'
import { jsonObject } from '../framing/json-object.ts'
import { MAX_SHARE_FRAME_BYTES } from './constants.ts'
import { ShareProtocolError } from './errors.ts'

const encoder = new TextEncoder()

/** One JSON object behind a 4-byte big-endian length. */
export function frame (value: Record<string, unknown>): Uint8Array {
  return lengthPrefixed(encoder.encode(JSON.stringify(value)))
}

/**
 * What arrives on a share channel: length-prefixed JSON frames (answers, a header), and after
 * the header the raw bytes of a file. One reader, so bytes that came with a frame are not lost.
 */
export class ChannelReader {
  private readonly it: AsyncIterator<Uint8Array>
  private readonly frames = new FrameReader({ maxLength: MAX_SHARE_FRAME_BYTES, tooLong: (n) => new ShareProtocolError(`a frame of ${n} bytes is over the limit`) })

  constructor (channel: Channel) {
    this.it = channel[Symbol.asyncIterator]()
  }

  /** The next JSON object; undefined when the other side ended. */
  async frame (): Promise<Record<string, unknown> | undefined> {
    for (;;) {
      const body = this.frames.next()
      if (body != null) {
        const value = jsonObject(body)
        if (value == null) throw new ShareProtocolError('a frame that is not a JSON object')
        return value
      }
      const next = await this.it.next()
      if (next.done === true) {
        if (this.frames.buffered > 0) throw new ShareProtocolError('the channel ended inside a frame')
        return undefined
      }
      this.frames.push(next.value)
    }
  }

  /** Exactly `n` raw bytes, as they come (fewer only when the other side ends first); frames may follow. */
  async * bytes (n: number): AsyncGenerator<Uint8Array> {
    let left = n
    while (left > 0) {
      const held = this.frames.take(left)
      if (held != null) {
        left -= held.byteLength
        yield held
        continue
      }
      const next = await this.it.next()
      if (next.done === true) return
      this.frames.push(next.value)
    }
  }
}
