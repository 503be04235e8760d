import { FrameType, MAX_CHANNEL_NAME_BYTES, MAX_FRAME } from './constants.ts'
import { TunnelProtocolError } from './errors.ts'

/**
 * Tunnel frames. On the wire each is `u32 length | u8 type | fields…` (big-endian).
 * Sequenced frames (all but ACK and RESUME*) carry `u64 seq`, the tunnel session's count.
 *
 *   DATA       type | seq | u32 channel | payload
 *   OPEN       type | seq | u32 channel | u8 priority | name (UTF-8)
 *   OPEN_OK    type | seq | u32 channel
 *   OPEN_FAIL  type | seq | u32 channel | reason (UTF-8)
 *   CLOSE      type | seq | u32 channel                 (the sender will write no more)
 *   RESET      type | seq | u32 channel | reason (UTF-8) (the channel is dead both ways)
 *   WINDOW     type | seq | u32 channel | u32 credit     (the receiver read this many more bytes)
 *   ACK        type | u64 received                      (every sequenced frame up to here arrived)
 *   RESUME     type | 16-byte session id | u64 received (first frame of a new tunnel stream)
 *   RESUME_OK  type | u64 received | u8 fresh           (fresh = 1: a new session, nothing to resume)
 */
export type Frame =
  | { type: typeof FrameType.DATA, seq: number, channel: number, payload: Uint8Array }
  | { type: typeof FrameType.OPEN, seq: number, channel: number, priority: number, name: string }
  | { type: typeof FrameType.OPEN_OK, seq: number, channel: number }
  | { type: typeof FrameType.OPEN_FAIL, seq: number, channel: number, reason: string }
  | { type: typeof FrameType.CLOSE, seq: number, channel: number }
  | { type: typeof FrameType.RESET, seq: number, channel: number, reason: string }
  | { type: typeof FrameType.WINDOW, seq: number, channel: number, credit: number }
  | { type: typeof FrameType.ACK, received: number }
  | { type: typeof FrameType.RESUME, session: Uint8Array, received: number }
  | { type: typeof FrameType.RESUME_OK, received: number, fresh: boolean }

/** A sequenced frame before its number is given (numbers are given when it is sent). */
export type Sequenced = Extract<Frame, { seq: number }>
export type Unsequenced<F = Sequenced> = F extends Sequenced ? Omit<F, 'seq'> : never

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function isSequenced (frame: Frame): frame is Sequenced {
  return 'seq' in frame
}

function textOf (frame: Frame): Uint8Array {
  if (frame.type === FrameType.OPEN) return encoder.encode(frame.name)
  if (frame.type === FrameType.OPEN_FAIL || frame.type === FrameType.RESET) return encoder.encode(frame.reason.slice(0, 200))
  return new Uint8Array(0)
}

/** Bytes of a DATA frame before its payload: length, type, seq, channel. */
export const DATA_HEADER_BYTES = 4 + 1 + 8 + 4

/**
 * The bytes of a DATA frame before its payload (encodeFrame's, up to the payload). The tunnel
 * sends header and payload side by side, so a payload is never copied on its way out.
 */
export function encodeDataHeader (seq: number, channel: number, payloadBytes: number): Uint8Array {
  // byte by byte: a DataView would make V8 move this small array off its heap, per frame
  const header = new Uint8Array(DATA_HEADER_BYTES)
  putUint32(header, 0, DATA_HEADER_BYTES - 4 + payloadBytes)
  header[4] = FrameType.DATA
  putUint64(header, 5, seq)
  putUint32(header, 13, channel)
  return header
}

/** Integers are big-endian, read and written byte by byte: no DataView or BigInt per frame. */
function readUint32 (bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) * 2 ** 24 + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number))
}

/** Big-endian u64 as a number (exact below 2^53; a larger sequence number is refused as out of order anyway). */
function readUint64 (bytes: Uint8Array, at: number): number {
  return readUint32(bytes, at) * 2 ** 32 + readUint32(bytes, at + 4)
}

function putUint32 (into: Uint8Array, at: number, value: number): void {
  into[at] = value >>> 24
  into[at + 1] = (value >>> 16) & 0xff
  into[at + 2] = (value >>> 8) & 0xff
  into[at + 3] = value & 0xff
}

/** u64 as two halves: sequence numbers stay far below 2^53, and BigInt is slow per frame. */
function putUint64 (into: Uint8Array, at: number, value: number): void {
  putUint32(into, at, Math.floor(value / 2 ** 32))
  putUint32(into, at + 4, value >>> 0)
}

export function encodeFrame (frame: Frame): Uint8Array {
  if (frame.type === FrameType.DATA) {
    const out = new Uint8Array(DATA_HEADER_BYTES + frame.payload.byteLength)
    out.set(encodeDataHeader(frame.seq, frame.channel, frame.payload.byteLength))
    out.set(frame.payload, DATA_HEADER_BYTES)
    return out
  }
  const text = textOf(frame)
  let body: number
  switch (frame.type) {
    case FrameType.OPEN: body = 1 + 8 + 4 + 1 + text.byteLength; break
    case FrameType.OPEN_FAIL: case FrameType.RESET: body = 1 + 8 + 4 + text.byteLength; break
    case FrameType.OPEN_OK: case FrameType.CLOSE: body = 1 + 8 + 4; break
    case FrameType.WINDOW: body = 1 + 8 + 4 + 4; break
    case FrameType.ACK: body = 1 + 8; break
    case FrameType.RESUME: body = 1 + 16 + 8; break
    case FrameType.RESUME_OK: body = 1 + 8 + 1; break
  }
  const out = new Uint8Array(4 + body)
  putUint32(out, 0, body)
  out[4] = frame.type
  let at = 5
  if (isSequenced(frame)) {
    putUint64(out, at, frame.seq)
    putUint32(out, at + 8, frame.channel)
    at += 12
  }
  switch (frame.type) {
    case FrameType.OPEN: out[at] = frame.priority; out.set(text, at + 1); break
    case FrameType.OPEN_FAIL: case FrameType.RESET: out.set(text, at); break
    case FrameType.WINDOW: putUint32(out, at, frame.credit); break
    case FrameType.ACK: putUint64(out, at, frame.received); break
    case FrameType.RESUME: out.set(frame.session, at); putUint64(out, at + 16, frame.received); break
    case FrameType.RESUME_OK: putUint64(out, at, frame.received); out[at + 8] = frame.fresh ? 1 : 0; break
    default: break
  }
  return out
}

const SEQUENCED_MIN: Partial<Record<number, number>> = {
  [FrameType.DATA]: 12, [FrameType.OPEN]: 13, [FrameType.OPEN_OK]: 12, [FrameType.OPEN_FAIL]: 12,
  [FrameType.CLOSE]: 12, [FrameType.RESET]: 12, [FrameType.WINDOW]: 16
}

/** Decode one frame body (after its length). Throws TunnelProtocolError on anything malformed. */
export function decodeFrame (body: Uint8Array): Frame {
  if (body.byteLength < 1 || body.byteLength > MAX_FRAME) throw new TunnelProtocolError(`frame of ${body.byteLength} bytes`)
  const type = body[0] as number
  const rest = body.byteLength - 1
  const min = SEQUENCED_MIN[type]
  if (min != null) {
    if (rest < min) throw new TunnelProtocolError(`short frame of type ${type}`)
    const seq = readUint64(body, 1)
    const channel = readUint32(body, 9)
    const tail = body.subarray(13)
    const text = (): string => {
      try {
        return decoder.decode(tail.subarray(type === FrameType.OPEN ? 1 : 0))
      } catch {
        throw new TunnelProtocolError('text that is not UTF-8')
      }
    }
    switch (type) {
      case FrameType.DATA: return { type, seq, channel, payload: tail }
      case FrameType.OPEN: {
        if (tail.byteLength - 1 > MAX_CHANNEL_NAME_BYTES) throw new TunnelProtocolError('channel name too long')
        return { type, seq, channel, priority: body[13] as number, name: text() }
      }
      case FrameType.OPEN_OK: return { type, seq, channel }
      case FrameType.OPEN_FAIL: return { type, seq, channel, reason: text() }
      case FrameType.CLOSE: return { type, seq, channel }
      case FrameType.RESET: return { type, seq, channel, reason: text() }
      case FrameType.WINDOW: return { type, seq, channel, credit: readUint32(body, 13) }
    }
  }
  if (type === FrameType.ACK && rest === 8) return { type, received: readUint64(body, 1) }
  if (type === FrameType.RESUME && rest === 24) return { type, session: body.slice(1, 17), received: readUint64(body, 17) }
  if (type === FrameType.RESUME_OK && rest === 9) return { type, received: readUint64(body, 1), fresh: body[9] === 1 }
  throw new TunnelProtocolError(`unknown or malformed frame of type ${type}`)
}
