import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { TunnelSession } from '../../link/session.ts'
import { CHANNEL_WINDOW, Priority } from '../../link/constants.ts'
import { chooseActive, HYSTERESIS, SETTLE_MS, type LinkFacts } from '../../link/rank.ts'
import type { Channel } from '../../link/index.ts'

/**
 * The tunnel session in-process: two sessions joined by a pair of in-memory streams (as
 * js-libp2p tests its muxers), so flow control, priorities, resume, acknowledgements and
 * garbage are checked in milliseconds. Failover across a cut interface stays in tunnel.spec.
 */

const log = logger('test:tunnel-session')

type Serve = (channel: Channel) => void

/** Two sessions of one tunnel; `link()` gives them a (new) pair of streams, as a new link would. */
function tunnel (serveB: Serve = echo, options: { graceMs?: number, link?: { delay: number, capacity: number } } = {}): { a: TunnelSession, b: TunnelSession, link(): Promise<[Stream, Stream]>, close(): void } {
  const id = new Uint8Array(16).fill(7)
  const a = new TunnelSession({ device: 'b', initiator: true, id, log, graceMs: options.graceMs, onOpen: () => () => {} })
  const b = new TunnelSession({ device: 'a', initiator: false, id, log, graceMs: options.graceMs, onOpen: () => serveB })
  return {
    a,
    b,
    link: async () => {
      const [sa, sb] = await streamPair(options.link)
      // each side says what it has of the other's, as RESUME / RESUME_OK do on a real link
      const [ra, rb] = [a.received, b.received]
      a.attach(sa, rb, sa[Symbol.asyncIterator](), new Uint8Array())
      b.attach(sb, ra, sb[Symbol.asyncIterator](), new Uint8Array())
      return [sa, sb]
    },
    close: () => { a.close('done'); b.close('done') }
  }
}

const echo: Serve = (channel) => {
  void (async () => {
    try {
      for await (const chunk of channel) await channel.write(chunk)
      channel.end()
    } catch {}
  })()
}

async function readAll (channel: Channel, bytes: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  let got = 0
  for await (const chunk of channel) {
    parts.push(chunk)
    got += chunk.byteLength
    if (got >= bytes) break
  }
  return Buffer.concat(parts)
}

/** `n` bytes whose every 4 bytes are their own offset: any loss, repeat or reordering shows. */
function numbered (n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i + 4 <= n; i += 4) out.writeUInt32BE(i, i)
  return out
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('tunnel session (in-process, stream pairs)', function () {
  this.timeout(20_000)

  it('carries a channel both ways, in order, byte for byte', async () => {
    const t = tunnel()
    try {
      await t.link()
      const channel = await t.a.open('echo')
      const data = numbered(3 * CHANNEL_WINDOW + 123)
      const back = readAll(channel, data.byteLength)
      for (let at = 0; at < data.byteLength; at += 50_000) await channel.write(data.subarray(at, at + 50_000))
      assert.equal(sha(await back), sha(data))
    } finally {
      t.close()
    }
  })

  it('resumes on a new stream without losing, repeating or reordering a byte', async () => {
    const t = tunnel()
    try {
      const [first] = await t.link()
      const channel = await t.a.open('echo')
      const data = numbered(4 * CHANNEL_WINDOW)
      const back = readAll(channel, data.byteLength)
      let written = 0
      const writer = (async () => {
        for (; written < data.byteLength; written += 32_768) await channel.write(data.subarray(written, written + 32_768))
      })()
      while (written < CHANNEL_WINDOW) await new Promise(resolve => setTimeout(resolve, 1))
      // the link dies mid-transfer: both ends of the stream are gone, frames in flight with them
      first.abort(new Error('link cut'))
      await new Promise(resolve => setTimeout(resolve, 20))
      await t.link()
      await writer
      assert.equal(sha(await back), sha(data))
    } finally {
      t.close()
    }
  })

  it('stalls only the channel whose reader is slow (per-channel flow control)', async () => {
    const parked: Channel[] = []
    const t = tunnel((channel) => { if (channel.name === 'slow') parked.push(channel); else echo(channel) })
    try {
      await t.link()
      const slow = await t.a.open('slow', Priority.BULK)
      // the slow side never reads: its writer stops at the channel's window, not the tunnel's
      let slowWritten = 0
      void (async () => { for (;;) { await slow.write(new Uint8Array(65_536)); slowWritten += 65_536 } })().catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 200))
      assert.ok(slowWritten <= 3 * CHANNEL_WINDOW, `wrote ${slowWritten} bytes to a reader that reads nothing`)
      const fast = await t.a.open('echo')
      const back = readAll(fast, 200_000)
      await fast.write(numbered(200_000))
      assert.equal(sha(await back), sha(numbered(200_000)))
      assert.equal(parked.length, 1)
    } finally {
      t.close()
    }
  })

  it('lets an interactive message overtake bulk data that is waiting to go', async () => {
    const BULK_CHANNELS = 4
    const BULK_BYTES = 8 * CHANNEL_WINDOW
    let bulkReceived = 0
    let chatArrivedAt = -1
    const t = tunnel((channel) => {
      void (async () => {
        for await (const chunk of channel) {
          if (channel.name === 'chat') chatArrivedAt = bulkReceived
          else bulkReceived += chunk.byteLength
        }
      })()
    }, { link: { delay: 5, capacity: 1 } })
    try {
      await t.link()
      const chat = await t.a.open('chat', Priority.INTERACTIVE)
      const bulks = await Promise.all(Array.from({ length: BULK_CHANNELS }, async (_, i) => await t.a.open(`bulk${i}`, Priority.BULK)))
      const writers = bulks.map(async (bulk) => { for (let at = 0; at < BULK_BYTES; at += 65_536) await bulk.write(new Uint8Array(65_536)) })
      while (bulkReceived < 2 * CHANNEL_WINDOW) await new Promise(resolve => setTimeout(resolve, 1))
      const writtenAt = bulkReceived
      await chat.write(new TextEncoder().encode('hi'))
      await Promise.all(writers)
      while (chatArrivedAt < 0) await new Promise(resolve => setTimeout(resolve, 5))
      // the chat waits behind what is already in flight, not behind the bulk still queued
      assert.ok(chatArrivedAt - writtenAt < 2 * CHANNEL_WINDOW, `${chatArrivedAt - writtenAt} bulk bytes arrived before the chat message`)
    } finally {
      t.close()
    }
  })

  it('cuts a stream that carries garbage, and the session goes on on the next one', async () => {
    const t = tunnel()
    try {
      await t.link()
      const first = await t.a.open('echo')
      // a new stream to b that carries a frame whose type no version knows
      const [sa2, sb2] = await streamPair()
      t.b.attach(sb2, t.a.received, sb2[Symbol.asyncIterator](), new Uint8Array())
      sa2.send(Uint8Array.of(0, 0, 0, 2, 0xee, 0))
      for (let i = 0; i < 100 && t.b.attached; i++) await new Promise(resolve => setTimeout(resolve, 10))
      assert.equal(t.b.attached, false, 'the session let go of the bad stream')
      assert.notEqual(sb2.status, 'open', 'the bad stream is cut')
      // a good link again: the channel opened before still works
      await t.link()
      const back = readAll(first, 5)
      await first.write(new TextEncoder().encode('again'))
      assert.equal((await back).toString(), 'again')
    } finally {
      t.close()
    }
  })

  it('acknowledges what arrived: after a cut only the unacknowledged frames are sent again', async () => {
    const t = tunnel()
    try {
      const [first] = await t.link()
      const channel = await t.a.open('echo')
      const back = readAll(channel, 1000)
      await channel.write(new Uint8Array(1000))
      await back
      // give the acknowledgements time to travel, then cut and resume: the echo's bytes are not repeated
      await new Promise(resolve => setTimeout(resolve, 100))
      const before = t.b.received
      first.abort(new Error('cut'))
      await new Promise(resolve => setTimeout(resolve, 20))
      await t.link()
      const again = readAll(channel, 3)
      await channel.write(Uint8Array.of(1, 2, 3))
      assert.deepEqual([...(await again)], [1, 2, 3])
      assert.ok(t.b.received > before, 'b goes on from where it was')
    } finally {
      t.close()
    }
  })

  it('fails its channels when no link returns within the grace period', async () => {
    const t = tunnel(echo, { graceMs: 100 })
    try {
      const [first] = await t.link()
      const channel = await t.a.open('echo')
      first.abort(new Error('cut'))
      const failed = await (async () => { for await (const _ of channel) { /* nothing arrives */ } })().then(() => 'ended', (err: Error) => err.message)
      assert.match(failed, /no link to the device/)
      await assert.rejects(t.a.open('echo'), /no link to the device/)
    } finally {
      t.close()
    }
  })
})

describe('choosing the active link (hysteresis)', () => {
  const link = (id: string, kind: LinkFacts['kind'], extra: Partial<LinkFacts> = {}): LinkFacts => ({ id, kind, loss: 0, failures: 0, upSince: 0, ...extra })
  const now = 10 * SETTLE_MS

  it('takes the best settled link, and a link that is not settled only when nothing else is there', () => {
    assert.equal(chooseActive([link('w', 'wifi'), link('e', 'wired')], undefined, now), 'e')
    assert.equal(chooseActive([link('w', 'wifi'), link('e', 'wired', { upSince: now })], undefined, now), 'w')
    assert.equal(chooseActive([link('e', 'wired', { upSince: now })], undefined, now), 'e')
    assert.equal(chooseActive([], 'e', now), undefined)
  })

  it('keeps the current link against one only a little better, and moves for one much better', () => {
    // Wi-Fi at 50 ms scores 10 below Wi-Fi at 5 ms: not more than HYSTERESIS better, so no move
    const wifi = link('w', 'wifi', { rttMs: 50 })
    assert.equal(HYSTERESIS, 10)
    assert.equal(chooseActive([wifi, link('w2', 'wifi', { rttMs: 5 })], 'w', now), 'w')
    assert.equal(chooseActive([wifi, link('e', 'wired')], 'w', now), 'e')
    // a better link that has not answered probes long enough does not take over a working one
    assert.equal(chooseActive([wifi, link('e', 'wired', { upSince: now - SETTLE_MS / 2 })], 'w', now), 'w')
    // a wired link losing most of its probes gives way to clean Wi-Fi
    const clean = link('w2', 'wifi', { rttMs: 5 })
    assert.equal(chooseActive([link('e', 'wired', { loss: 0.34 }), clean], 'e', now), 'e')
    assert.equal(chooseActive([link('e', 'wired', { loss: 0.9 }), clean], 'e', now), 'w2')
  })
})

describe('the link services declare what they need', () => {
  it('a node with the tunnel but no link manager is refused at creation, naming what is missing', async () => {
    const { createLibp2p } = await import('libp2p')
    const { tunnels } = await import('../../link/index.ts')
    // the types already refuse it; a node built without them (plain JavaScript) is refused at run time
    const alone = tunnels({ isMember: () => true, authorize: () => {} }) as unknown as () => object
    await assert.rejects(createLibp2p({ start: false, services: { tunnels: alone } }),
      (err: Error) => err.name === 'UnmetServiceDependenciesError' && err.message.includes('@companion/links'))
  })
})

describe('a device that stops being a member', () => {
  it('loses its tunnel session: channels waiting for it fail at once, naming why', async () => {
    const { tunnels } = await import('../../link/index.ts')
    const { peerIdFromString } = await import('@libp2p/peer-id')
    const { defaultLogger } = await import('@libp2p/logger')
    const { TypedEventEmitter } = await import('@libp2p/interface')
    // the lowest possible id opens every tunnel: ours, so open() also tries to put it on a link
    const self = peerIdFromString('12D3KooW9pZh9WMNH7HJqv3VQ4TbxKhnRmVoQDQ3RZz6KgjPVh6o')
    const removed = '12D3KooWHvUo1FXbATQhamDct4FAZnqrGsvLqg3JzCgz1angnXoY'
    // a link manager with no link up: what a device away looks like to the tunnel
    const links = Object.assign(new TypedEventEmitter(), { active: () => undefined, activity: () => {}, links: () => [], refresh: () => {} })
    const registrar = { handle: async () => {}, unhandle: async () => {} }
    const service = tunnels({ isMember: () => true, authorize: () => {} })({ peerId: self, registrar, logger: defaultLogger(), links } as never)
    const waiting = service.open(removed, 'sms-sync')
    service.forget(removed)
    await assert.rejects(waiting, /no longer a member/)
  })
})
