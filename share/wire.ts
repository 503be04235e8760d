import type { Channel } from '../link/index.ts'
import { lengthPrefixed } from '../framing/frames.ts'
import { JsonThenBytesReader } from '../framing/json-then-bytes.ts'
import { MAX_SHARE_FRAME_BYTES } from './constants.ts'
import { ShareProtocolError } from './errors.ts'

const encoder = new TextEncoder()

/** One JSON object behind a 4-byte big-endian length. */
export function frame (value: Record<string, unknown>): Uint8Array {
  return lengthPrefixed(encoder.encode(JSON.stringify(value)))
}

/** What arrives on a share channel: JSON frames (answers, a header), after a header a file's raw bytes. */
export class ChannelReader extends JsonThenBytesReader {
  constructor (channel: Channel) {
    super(channel, { maxLength: MAX_SHARE_FRAME_BYTES, violation: (message) => new ShareProtocolError(message) })
  }
}
