import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { FrameType, MAX_DATA_PAYLOAD } from '../../link/constants.ts'
import { TunnelProtocolError } from '../../link/errors.ts'
import { DATA_HEADER_BYTES, decodeFrame, encodeDataHeader, encodeFrame, type Frame } from '../../link/frames.ts'

/** The body decodeFrame reads: a frame without its u32 length. */
/** Plain Uint8Arrays: what decodeFrame returns (a Buffer would not compare equal). */
const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const bodyOf = (frame: Uint8Array): Uint8Array => frame.subarray(4)

describe('tunnel frames', () => {
  const frames: Frame[] = [
    { type: FrameType.DATA, seq: 1, channel: 3, payload: random(MAX_DATA_PAYLOAD) },
    { type: FrameType.DATA, seq: 2 ** 40 + 5, channel: 2 ** 32 - 1, payload: new Uint8Array(0) },
    { type: FrameType.OPEN, seq: 7, channel: 5, priority: 2, name: 'tcp:8080' },
    { type: FrameType.OPEN_OK, seq: 8, channel: 5 },
    { type: FrameType.OPEN_FAIL, seq: 9, channel: 5, reason: 'port 8080 is not allowed' },
    { type: FrameType.CLOSE, seq: 10, channel: 5 },
    { type: FrameType.RESET, seq: 11, channel: 5, reason: 'réinitialisé' },
    { type: FrameType.WINDOW, seq: 12, channel: 5, credit: 262_144 },
    { type: FrameType.ACK, received: 2 ** 33 },
    { type: FrameType.RESUME, session: random(16), received: 42 },
    { type: FrameType.RESUME_OK, received: 42, fresh: true }
  ]

  it('reads back every frame type as it was written', () => {
    for (const frame of frames) {
      const bytes = encodeFrame(frame)
      assert.equal(new DataView(bytes.buffer).getUint32(0), bytes.byteLength - 4, `length of type ${frame.type}`)
      assert.deepEqual(decodeFrame(bodyOf(bytes)), frame)
    }
  })

  it('makes DATA headers that, followed by the payload, are the frame encodeFrame makes', () => {
    const payload = random(1000)
    const seq = 2 ** 32 + 17 // above 32 bits: both halves of the u64 matter
    const header = encodeDataHeader(seq, 9, payload.byteLength)
    assert.equal(header.byteLength, DATA_HEADER_BYTES)
    const frame = new Uint8Array([...header, ...payload])
    assert.deepEqual(frame, encodeFrame({ type: FrameType.DATA, seq, channel: 9, payload }))
    assert.deepEqual(decodeFrame(bodyOf(frame)), { type: FrameType.DATA, seq, channel: 9, payload })
  })

  it('refuses malformed frames with a protocol error', () => {
    const malformed: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['unknown type', Uint8Array.of(99, 0, 0, 0, 0, 0, 0, 0, 1)],
      ['short DATA', Uint8Array.of(FrameType.DATA, 0, 0, 0)],
      ['ACK of the wrong size', Uint8Array.of(FrameType.ACK, 0, 0, 0)],
      ['OPEN whose name is not UTF-8', bodyOf(encodeFrame({ type: FrameType.OPEN, seq: 1, channel: 1, priority: 1, name: 'ab' })).map((b, i, all) => i >= all.length - 2 ? 0xff : b)],
      ['OPEN with a 200-byte name', bodyOf(encodeFrame({ type: FrameType.OPEN, seq: 1, channel: 1, priority: 1, name: 'x'.repeat(200) }))],
      ['frame above the largest', new Uint8Array(MAX_DATA_PAYLOAD + 100).fill(FrameType.DATA, 0, 1)]
    ]
    for (const [what, body] of malformed) assert.throws(() => decodeFrame(body), TunnelProtocolError, what)
  })
})
