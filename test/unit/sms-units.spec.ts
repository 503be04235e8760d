import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { tempDir } from '../../testbed/index.ts'
import { Carrier } from '../../carrier/server.ts'
import { conversationOf, countryCode, isPremium, isShortCode, normalizeNumber } from '../../sms/codec/numbers.ts'
import { EventSigner, openEvent, type SmsEvent } from '../../sms/signed-events.ts'
import { SmsStore, type IncomingEntry } from '../../sms/store.ts'
import { SmsProxy } from '../../sms/proxy.ts'
import { rankProxies, type ProxyCandidate } from '../../sms/client.ts'
import { SimBackend } from '../../sms/backends/sim.ts'
import { readJsonFrames, encodeJsonFrame } from '../../sms/json-frames.ts'
import { getMessage, listMessages } from '../../sms/views.ts'
import { logger } from '@libp2p/logger'

interface TestDevice { key: PrivateKey, id: string, store: SmsStore }

describe('SMS building blocks', function () {
  const tmp = tempDir()
  let n = 0
  after(() => { tmp.cleanup() })

  async function device (): Promise<TestDevice> {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    const store = new SmsStore({ path: join(tmp.path, `sms-${n++}.db`), self: id, signer: new EventSigner(key), hasBackend: () => true })
    return { key, id, store }
  }

  /** Every entry `from` holds, fed to `to` in the given order. */
  async function copy (from: SmsStore, to: SmsStore, order: (a: unknown[]) => unknown[] = a => a): Promise<void> {
    const entries = Object.keys(from.versionVector()).flatMap(origin => from.entriesAfter(origin, 0, 10_000))
    const wire = order(entries.flatMap((e): IncomingEntry[] => e.kind === 'placeholder' ? (e.stub == null ? [] : [{ stub: e.stub }]) : [{ signed: e.signed }])) as Parameters<SmsStore['ingest']>[0]
    for (const e of wire) await to.ingest([e], () => true)
  }

  describe('numbers', () => {
    it('normalizes what people type to E.164, and refuses what is no number', () => {
      assert.equal(normalizeNumber('+1 (555) 010-2030'), '+15550102030')
      assert.equal(normalizeNumber('0049 151 2345 6789'), '+4915123456789')
      assert.equal(normalizeNumber('12345'), '12345')
      for (const bad of ['', 'hello', '+0123456789', '555-0102', '+1234567890123456', '1'.repeat(50)]) {
        assert.throws(() => normalizeNumber(bad), { name: 'InvalidSmsError' }, bad)
      }
    })

    it('keys a conversation by its sorted set of numbers, and knows short codes, premium numbers and countries', () => {
      assert.equal(conversationOf(['+4915123456789', '+15550102030', '+1 555 010 2030']), '+15550102030,+4915123456789')
      assert.ok(isShortCode('12345') && !isShortCode('+15550102030'))
      assert.ok(isPremium('+19005550100') && !isPremium('+15550102030'))
      assert.deepEqual(['+15550102030', '+4915123456789', '+35312345678', '+79161234567'].map(countryCode), ['1', '49', '353', '7'])
    })
  })

  describe('log events', () => {
    it('refuses garbage, a changed text, and a signature of another device', async () => {
      const a = await device()
      const b = await device()
      const signer = new EventSigner(a.key)
      const good = signer.seal({ origin: a.id, seq: 1, event: { type: 'read', ids: ['abcdefgh-1'], at: 1 } })
      assert.equal(openEvent(good).origin, a.id)
      const fromService = signer.seal({ origin: a.id, seq: 1, event: { type: 'message', id: 'abcdefgh', direction: 'in', from: 'DHL Express', to: [], body: 'parcel', author: a.id, createdAt: 1, via: a.id } })
      assert.equal((openEvent(fromService).event as { from: string }).from, 'DHL Express', 'an alphanumeric sender id is a sender')
      const tampered = { ...good, payload: good.payload.replace('abcdefgh-1', 'abcdefgh-2') }
      assert.throws(() => openEvent(tampered), /bad signature/)
      const forged = new EventSigner(b.key).seal({ origin: a.id, seq: 1, event: { type: 'read', ids: ['abcdefgh-1'], at: 1 } })
      assert.throws(() => openEvent(forged), /bad signature/)
      const garbage: unknown[] = [
        null, 42, 'text', [], { type: 'nope' },
        { type: 'message', id: 'abcdefgh', direction: 'sideways', from: null, to: ['+15550102030'], body: 'x', author: a.id, createdAt: 1 },
        { type: 'message', id: 'abcdefgh', direction: 'out', from: null, to: [], body: 'x', author: a.id, createdAt: 1 },
        { type: 'message', id: 'abcdefgh', direction: 'out', from: null, to: ['not a number'], body: 'x', author: a.id, createdAt: 1 },
        { type: 'message', id: 'abcdefgh', direction: 'out', from: null, to: ['+15550102030'], body: 'x'.repeat(40_000), author: a.id, createdAt: 1 },
        { type: 'status', id: 'abcdefgh', status: 'teleported', at: 1 },
        { type: 'status', id: '../../etc', status: 'sent', at: 1 },
        { type: 'read', ids: [], at: 1 },
        { type: 'message', id: 'abcdefgh', direction: 'in', from: '<script>', to: [], body: 'x', author: a.id, createdAt: 1 },
        { type: 'message', id: 'abcdefgh', direction: 'in', from: 'A sender id too long', to: [], body: 'x', author: a.id, createdAt: 1 },
        { type: 'assign', id: 'abcdefgh', via: 'somebody' }
      ]
      for (const event of garbage) {
        const sealed = signer.seal({ origin: a.id, seq: 2, event: event as SmsEvent })
        assert.throws(() => openEvent(sealed), { name: 'SyncProtocolError' }, JSON.stringify(event))
      }
    })

    it('splits sync frames, and refuses an oversized or non-JSON frame', async () => {
      async function * chunks (...parts: Uint8Array[]): AsyncGenerator<Uint8Array> { yield * parts }
      const one = encodeJsonFrame({ a: 1 })
      const two = encodeJsonFrame({ b: 2 })
      const joined = new Uint8Array([...one, ...two])
      const batches: unknown[][] = []
      for await (const batch of readJsonFrames(chunks(joined.subarray(0, 5), joined.subarray(5)))) batches.push(batch)
      assert.deepEqual(batches.flat(), [{ a: 1 }, { b: 2 }])
      await assert.rejects(async () => { for await (const _ of readJsonFrames(chunks(new Uint8Array([0xff, 0xff, 0xff, 0xff])))) {} }, /over the limit/)
      await assert.rejects(async () => { for await (const _ of readJsonFrames(chunks(new Uint8Array([0, 0, 0, 2, 0x7b, 0x7b])))) {} }, /not JSON/)
    })
  })

  describe('the replicated store', () => {
    it('ends with the same views on every device whatever order the events arrive in, and counts versions without gaps', async () => {
      const laptop = await device()
      const phone = await device()
      await laptop.store.write(tx => {
        tx.append({ type: 'message', id: 'message-1', direction: 'out', from: null, to: ['+15550102030'], body: 'hi', author: laptop.id, createdAt: 1000 })
        tx.append({ type: 'assign', id: 'message-1', via: phone.id })
      })
      await copy(laptop.store, phone.store)
      await phone.store.write(tx => {
        tx.append({ type: 'status', id: 'message-1', status: 'accepted', at: 1001, from: '+15550100002' })
        tx.append({ type: 'status', id: 'message-1', status: 'sent', at: 1002 })
        tx.append({ type: 'message', id: 'message-2', direction: 'in', from: '+15550102030', to: ['+15550100002'], body: 'hello', author: phone.id, createdAt: 1003, via: phone.id })
        tx.append({ type: 'read', ids: ['message-2'], at: 1004 })
      })
      const views = []
      for (const order of [(a: unknown[]) => a, (a: unknown[]) => [...a].reverse(), (a: unknown[]) => [...a.slice(3), ...a.slice(0, 3)]]) {
        const tablet = await device()
        await copy(phone.store, tablet.store, order)
        assert.deepEqual(tablet.store.versionVector(), { [laptop.id]: 2, [phone.id]: 4 })
        views.push(listMessages(tablet.store.db, { limit: 10 }))
        tablet.store.close()
      }
      assert.deepEqual(views[1], views[0])
      assert.deepEqual(views[2], views[0])
      const out = views[0]?.find(m => m.id === 'message-1')
      assert.equal(out?.status, 'sent')
      assert.equal(out?.via, phone.id)
      assert.equal(out?.from, '+15550100002')
      assert.equal(views[0]?.find(m => m.id === 'message-2')?.read, true)
      assert.equal(getMessage(phone.store.db, 'message-1')?.statusHistory.length, 3)
    })

    it('ignores an event twice, and fills a gap with the signed placeholder of an event the device may not see', async () => {
      const a = await device()
      const b = await device()
      await a.store.write(tx => { tx.append({ type: 'read', ids: ['abcdefgh-1'], at: 1 }, [a.id]) })
      await a.store.write(tx => { tx.append({ type: 'read', ids: ['abcdefgh-2'], at: 2 }) })
      const [first, second] = a.store.entriesAfter(a.id, 0, 10)
      assert.ok(first?.kind === 'event' && first.signed.stub != null && second?.kind === 'event')
      assert.equal(await b.store.ingest([{ signed: second.signed }], () => true), 1)
      assert.deepEqual(b.store.versionVector(), { [a.id]: 0 }, 'a gap: nothing contiguous yet')
      assert.equal(await b.store.ingest([{ signed: second.signed }], () => true), 0)
      const stub = { text: JSON.stringify({ origin: a.id, seq: 1, audience: [a.id] }), sig: first.signed.stub }
      assert.equal(await b.store.ingest([{ stub }], () => true), 1)
      assert.deepEqual(b.store.versionVector(), { [a.id]: 2 })
      assert.equal(await b.store.ingest([{ signed: first.signed }], () => false), 0, 'an origin the device does not trust is not stored')
      const forged = new EventSigner(b.key).seal({ origin: a.id, seq: 3, event: { type: 'read', ids: ['abcdefgh-3'], at: 3 } })
      await assert.rejects(b.store.ingest([{ signed: forged }], () => true), /bad signature/, 'a relayed event must carry its origin\'s signature')
      assert.deepEqual(b.store.versionVector(), { [a.id]: 2 })
    })
  })

  describe('proxy choice', () => {
    it('prefers a reachable phone, then a SIM of the recipients\' country, not roaming, better signal', () => {
      const us = { number: '+15550100001', roaming: false, signal: 2 }
      const de = { number: '+4915100000001', roaming: false, signal: 4 }
      const order = (cs: ProxyCandidate[], to: string[]): string[] => rankProxies(cs, to).map(c => c.id)
      assert.deepEqual(order([{ id: 'de', reachable: true, sim: de }, { id: 'us', reachable: true, sim: us }], ['+15550109999']), ['us', 'de'])
      assert.deepEqual(order([{ id: 'de', reachable: true, sim: de }, { id: 'us', reachable: true, sim: us }], ['+4917600000000']), ['de', 'us'])
      assert.deepEqual(order([{ id: 'us', reachable: false, sim: us }, { id: 'de', reachable: true, sim: de }], ['+15550109999']), ['de', 'us'])
      assert.deepEqual(order([{ id: 'a', reachable: true, sim: { ...us, roaming: true, signal: 4 } }, { id: 'b', reachable: true, sim: us }], ['+15550109999']), ['b', 'a'])
      assert.deepEqual(order([{ id: 'a', reachable: true, sim: { ...us, signal: 1 } }, { id: 'b', reachable: true, sim: { ...us, signal: 3 } }], ['+15550109999']), ['b', 'a'])
      assert.deepEqual(order([{ id: 'a', reachable: true, sim: us, refusesUs: true }, { id: 'b', reachable: false, sim: de }], ['+15550109999']), ['b'], 'a phone that refuses us is never chosen')
    })
  })

  describe('the simulated carrier', () => {
    it('refuses the fraction of messages it is told to, and the phone reports the reason', async () => {
      const carrier = new Carrier({ host: '127.0.0.1', port: 0, failRate: 1 })
      const { port } = await carrier.listen()
      const ready = Promise.withResolvers<void>()
      const backend = new SimBackend(`sim://127.0.0.1:${port}/+15550100002`, { incoming: async () => {}, report: async () => {}, stored: async () => {}, changed: () => { ready.resolve() } })
      try {
        await backend.start()
        await ready.promise
        await assert.rejects(backend.send('+15550102030', 'doomed'), { name: 'SmsBackendError', message: 'network failure (simulated)' })
        assert.deepEqual(carrier.log(), [])
      } finally {
        await backend.stop()
        await carrier.close()
      }
    })
  })

  describe('the proxy', () => {
    it('after a crash while handing a message to the network, ends it failed(outcome unknown) and never sends it again', async () => {
      const carrier = new Carrier({ host: '127.0.0.1', port: 0 })
      const { port } = await carrier.listen()
      const phone = await device()
      await phone.store.write(tx => {
        tx.append({ type: 'message', id: 'crashed-1', direction: 'out', from: null, to: ['+15550102030'], body: 'in flight', author: phone.id, createdAt: 1, via: phone.id })
        tx.append({ type: 'message', id: 'waiting-1', direction: 'out', from: null, to: ['+15550102030'], body: 'not yet handed', author: phone.id, createdAt: 2, via: phone.id })
        // the state a kill -9 leaves behind between "handing" and the answer
        tx.db.prepare("UPDATE proxy_parts SET state = 'handing' WHERE id = 'crashed-1'").run()
      })
      const backend = new SimBackend(`sim://127.0.0.1:${port}/+15550100002`, { incoming: async () => {}, report: async (r) => { await proxy.report(r) }, stored: async () => {}, changed: () => { proxy.kick() } })
      const proxy = new SmsProxy({ store: phone.store, backend, maySend: () => true, receivers: () => undefined, policy: () => ({ rate: 30, deny: [], allow: [] }), log: logger('test:proxy') })
      try {
        await proxy.start()
        await backend.start()
        const deadline = Date.now() + 10_000
        while (getMessage(phone.store.db, 'waiting-1')?.status !== 'sent' && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
        const crashed = getMessage(phone.store.db, 'crashed-1')
        assert.equal(crashed?.status, 'failed')
        assert.equal(crashed?.reason, 'outcome unknown')
        assert.equal(getMessage(phone.store.db, 'waiting-1')?.status, 'sent')
        assert.deepEqual(carrier.log().map(e => e.body), ['not yet handed'])
      } finally {
        proxy.stop()
        await backend.stop()
        await carrier.close()
      }
    })
  })
})
