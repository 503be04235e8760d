import assert from 'node:assert/strict'
import { FrameReader, lengthPrefixed } from '../../framing/frames.ts'
import { LineReader } from '../../framing/lines.ts'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (body: Uint8Array): string => new TextDecoder().decode(body)

/** Every way of cutting `data` in two, plus one byte at a time. */
function cuts (data: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = []
  for (let at = 0; at <= data.byteLength; at++) out.push([data.subarray(0, at), data.subarray(at)])
  out.push(Array.from(data, b => Uint8Array.of(b)))
  return out
}

describe('framing: one reader for length-prefixed and fixed-size frames', () => {
  it('takes every frame whole however the stream cut the bytes, and nothing before it is whole', () => {
    const stream = new Uint8Array([...lengthPrefixed(bytes('one')), ...lengthPrefixed(bytes('')), ...lengthPrefixed(bytes('three!'))])
    for (const chunks of cuts(stream)) {
      const reader = new FrameReader({ maxLength: 16 })
      const got: string[] = []
      for (const chunk of chunks) {
        reader.push(chunk)
        for (let f = reader.next(); f != null; f = reader.next()) got.push(text(f))
      }
      assert.deepEqual(got, ['one', '', 'three!'])
      assert.equal(reader.buffered, 0)
    }
  })

  it('refuses an announced length over the limit as soon as the header is there, with the caller\'s error', () => {
    class MyProtocolError extends Error {}
    const reader = new FrameReader({ maxLength: 4, tooLong: (length) => new MyProtocolError(`frame of ${length} bytes`) })
    reader.push(Uint8Array.of(0, 0, 0, 5))
    assert.throws(() => reader.next(), (err: Error) => err instanceof MyProtocolError && err.message === 'frame of 5 bytes')
  })

  it('hands back what follows a frame (a handshake, then the stream)', () => {
    const reader = new FrameReader({ maxLength: 64 })
    reader.push(new Uint8Array([...lengthPrefixed(bytes('hello')), 1, 2, 3]))
    assert.equal(text(reader.next() as Uint8Array), 'hello')
    assert.deepEqual([...reader.rest()], [1, 2, 3])
  })

  it('reads fixed-size frames (probes) the same way', () => {
    const stream = Uint8Array.from({ length: 36 }, (_, i) => i)
    for (const chunks of cuts(stream)) {
      const reader = new FrameReader({ size: 12 })
      const got: number[] = []
      for (const chunk of chunks) {
        reader.push(chunk)
        for (let f = reader.next(); f != null; f = reader.next()) got.push(f[0] as number, f.byteLength)
      }
      assert.deepEqual(got, [0, 12, 12, 12, 24, 12])
    }
  })
})

describe('framing: one reader for text records', () => {
  it('takes JSON lines and event-stream blocks whole however they were cut, skipping blank ones', () => {
    const lines = '{"a":1}\n\n{"b":"ü"}\n'
    for (let at = 0; at <= lines.length; at++) {
      const reader = new LineReader()
      assert.deepEqual([...reader.push(lines.slice(0, at)), ...reader.push(lines.slice(at))], ['{"a":1}', '{"b":"ü"}'])
    }
    const events = new LineReader({ separator: '\n\n' })
    assert.deepEqual(events.push('event: sms\ndata: {}\n\nevent: li'), ['event: sms\ndata: {}'])
    assert.deepEqual(events.push('nk\ndata: 1\n\n'), ['event: link\ndata: 1'])
  })

  it('says when an unfinished record has grown past its limit, after the whole records before it', () => {
    const reader = new LineReader({ maxLength: 8 })
    assert.deepEqual(reader.push('short\n123456789'), ['short'])
    assert.equal(reader.overflowed, true)
    assert.equal(new LineReader({ maxLength: 8 }).push('12345678').length, 0)
  })
})
