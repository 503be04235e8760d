import { Uint8ArrayList } from 'uint8arraylist'

export interface FrameReaderInit {
  /** Frames that each follow a 4-byte big-endian length of at most `maxLength` bytes ... */
  maxLength?: number
  /** ... or frames of exactly `size` bytes, no header. */
  size?: number
  /** The error for a length over `maxLength` (a protocol violation of the caller's kind). */
  tooLong?: (length: number) => Error
}

/**
 * Reassembles frames from chunks as they arrive (a stream splits and joins writes as it
 * likes): push what came, take every whole frame, keep the rest. One reader for every
 * framed protocol of ours (the tunnel, its handshake, probes, the message log's sync).
 */
export class FrameReader {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxLength: number
  private readonly size?: number
  private readonly tooLong: (length: number) => Error

  constructor (init: FrameReaderInit) {
    this.size = init.size
    this.maxLength = init.maxLength ?? Number.MAX_SAFE_INTEGER
    this.tooLong = init.tooLong ?? ((length) => new RangeError(`frame of ${length} bytes is over the limit`))
  }

  push (chunk: Uint8Array | Uint8ArrayList): void {
    this.buffer.append(chunk)
  }

  /**
   * The next whole frame (its body: a view where it arrived in one piece, else a copy), or
   * undefined until more arrives; throws `tooLong` at once for an announced length over the limit.
   */
  next (): Uint8Array | undefined {
    if (this.size != null) {
      if (this.buffer.byteLength < this.size) return undefined
      const frame = this.buffer.subarray(0, this.size)
      this.buffer.consume(this.size)
      return frame
    }
    if (this.buffer.byteLength < 4) return undefined
    const length = this.buffer.getUint32(0)
    if (length > this.maxLength) throw this.tooLong(length)
    if (this.buffer.byteLength < 4 + length) return undefined
    const body = this.buffer.subarray(4, 4 + length)
    this.buffer.consume(4 + length)
    return body
  }

  /** Bytes held that are not a whole frame yet. */
  get buffered (): number {
    return this.buffer.byteLength
  }

  /** Up to `max` raw bytes held (not a frame: bytes between frames), or undefined when none are. */
  take (max: number): Uint8Array | undefined {
    if (this.buffer.byteLength === 0) return undefined
    const n = Math.min(max, this.buffer.byteLength)
    const bytes = this.buffer.subarray(0, n)
    this.buffer.consume(n)
    return bytes
  }

  /** What is left after the frames taken (e.g. what followed a handshake), as one array. */
  rest (): Uint8Array {
    return this.buffer.subarray()
  }
}

/** A body behind its 4-byte big-endian length. */
export function lengthPrefixed (body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.byteLength)
  new DataView(frame.buffer).setUint32(0, body.byteLength)
  frame.set(body, 4)
  return frame
}
