import { FrameReader } from './frames.ts'
import { jsonObject } from './json-object.ts'

export interface JsonThenBytesInit {
  /** The longest frame taken. */
  maxLength: number
  /** The error for a protocol violation (a frame too long or not a JSON object, an end inside a frame). */
  violation: (message: string) => Error
}

/**
 * A stream of length-prefixed JSON objects (headers, answers) with raw bytes between them (a
 * file after its header): the share channel and the blobs channel. One reader, so bytes that
 * came with a frame are not lost.
 */
export class JsonThenBytesReader {
  private readonly it: AsyncIterator<Uint8Array>
  private readonly frames: FrameReader
  private readonly violation: (message: string) => Error

  constructor (source: AsyncIterable<Uint8Array>, init: JsonThenBytesInit) {
    this.it = source[Symbol.asyncIterator]()
    this.violation = init.violation
    this.frames = new FrameReader({ maxLength: init.maxLength, tooLong: (n) => init.violation(`a frame of ${n} bytes is over the limit`) })
  }

  /** The next JSON object; undefined when the other side ended. */
  async frame (): Promise<Record<string, unknown> | undefined> {
    for (;;) {
      const body = this.frames.next()
      if (body != null) {
        const value = jsonObject(body)
        if (value == null) throw this.violation('a frame that is not a JSON object')
        return value
      }
      const next = await this.it.next()
      if (next.done === true) {
        if (this.frames.buffered > 0) throw this.violation('the stream ended inside a frame')
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

  /** Every raw byte up to the end of the stream. */
  async * rest (): AsyncGenerator<Uint8Array> {
    yield * this.bytes(Number.POSITIVE_INFINITY)
  }
}
