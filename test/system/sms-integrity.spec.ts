import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { tempDir, until } from '../../testbed/index.ts'
import { replicate, smsDevice, wireEntries, SQLITE_BUSY, SQLITE_FULL, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { randomEvent, seededRandom } from '../../testbed/sms-events.ts'
import { EventSigner, type EventPayload, type SmsEvent } from '../../sms/signed-events.ts'
import { SmsProxy } from '../../sms/proxy.ts'
import { SimBackend } from '../../sms/backends/sim.ts'
import type { SmsBackend } from '../../sms/backends/backend.ts'
import { MAX_BODY_CHARS } from '../../sms/constants.ts'
import { getMessage, listMessages } from '../../sms/views.ts'
import { Carrier } from '../../carrier/server.ts'
import type { RefusedEntry } from '../../sms/store.ts'
import { AtBackend } from '../../sms/backends/at/at-backend.ts'
import { ModemSim } from '../../testbed/tools/modem-sim.ts'
import { deliverPdus } from '../../testbed/gammu.ts'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, openSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'

const NUMBER = '+15550102030'
const PHONE_NUMBER = '+15550100002'
const log = logger('test:sms-integrity')

/** An incoming SMS as a phone logs it. */
function incoming (phone: TestSmsDevice, id: string, body: string, audience?: string[]): Promise<void> {
  return phone.store.write(tx => { tx.append({ type: 'message', id, direction: 'in', from: NUMBER, to: [PHONE_NUMBER], body, author: phone.id, createdAt: Date.now(), via: phone.id }, audience) })
}

/** An event signed by `signer` as entry `seq` of its log, as it would travel. */
function forge (signer: TestSmsDevice, seq: number, event: SmsEvent, audience?: string[]): { signed: ReturnType<EventSigner['seal']> } {
  const payload: EventPayload = { origin: signer.id, seq, event, ...(audience == null ? {} : { audience }) }
  return { signed: new EventSigner(signer.key).seal(payload) }
}

describe('SMS log integrity', function () {
  const tmp = tempDir()
  let n = 0
  const device = async (hasBackend?: (device: string) => boolean | undefined): Promise<TestSmsDevice> => await smsDevice(tmp.path, `d${n++}`, hasBackend)
  after(() => { tmp.cleanup() })

  describe('one rule for what a device writes and what its peers accept', () => {
    it('keeps long texts whole, 6,000 characters in and the longest GSM-7 and UCS-2 texts out, and what follows still flows', async () => {
      const phone = await device()
      const laptop = await device()
      const long = 'A long story from the outside world. '.repeat(163).slice(0, 6_000)
      await incoming(phone, 'in-long-0000', long)
      await incoming(phone, 'in-short-000', 'and a short one after it')
      await phone.store.write(tx => {
        tx.append({ type: 'message', id: 'out-gsm-0000', direction: 'out', from: null, to: [NUMBER], body: 'x'.repeat(MAX_BODY_CHARS), author: phone.id, createdAt: 1 })
        tx.append({ type: 'message', id: 'out-ucs2-000', direction: 'out', from: null, to: [NUMBER], body: 'ą'.repeat(255 * 67), author: phone.id, createdAt: 2 })
      })
      assert.equal(await replicate(phone.store, laptop.store), 4)
      assert.equal(getMessage(laptop.store.db, 'in-long-0000')?.body, long)
      assert.equal(getMessage(laptop.store.db, 'in-short-000')?.body, 'and a short one after it')
      assert.equal(getMessage(laptop.store.db, 'out-gsm-0000')?.body.length, MAX_BODY_CHARS)
      assert.deepEqual(laptop.store.versionVector(), { [phone.id]: 4 })
    })

    it('refuses to write what its peers would refuse: a text over 255 parts, a reason over 200 characters', async () => {
      const phone = await device()
      const tooLong: SmsEvent[] = [
        { type: 'message', id: 'out-ucs2-001', direction: 'out', from: null, to: [NUMBER], body: 'ą'.repeat(255 * 67 + 1), author: phone.id, createdAt: 1 },
        { type: 'message', id: 'in-long-0001', direction: 'in', from: NUMBER, to: [], body: 'x'.repeat(MAX_BODY_CHARS + 1), author: phone.id, createdAt: 1, via: phone.id },
        { type: 'status', id: 'out-ucs2-001', status: 'failed', at: 1, reason: 'r'.repeat(201) }
      ]
      for (const event of tooLong) await assert.rejects(phone.store.write(tx => { tx.append(event) }), { name: 'InvalidEventError' })
      assert.deepEqual(phone.store.versionVector(), {}, 'nothing was written, no number used')
    })

    it('keeps a correctly signed event it cannot accept in its place, unapplied, and goes on with the next', async () => {
      const rogue = await device()
      const laptop = await device()
      const refused: RefusedEntry[] = []
      laptop.store.on('refused', (entries) => { refused.push(...entries) })
      const entries = [
        forge(rogue, 1, { type: 'message', id: 'out-huge-001', direction: 'out', from: null, to: [NUMBER], body: 'x'.repeat(MAX_BODY_CHARS + 10), author: rogue.id, createdAt: 1 }),
        forge(rogue, 2, { type: 'read', ids: ['nothing-1'], at: 2 }),
        forge(rogue, 3, { type: 'message', id: 'out-fine-001', direction: 'out', from: null, to: [NUMBER], body: 'fine', author: rogue.id, createdAt: 3 })
      ]
      assert.equal(await laptop.store.ingest(entries, () => true), 3)
      assert.deepEqual(laptop.store.versionVector(), { [rogue.id]: 3 }, 'the feed moved past the entry it refused')
      assert.equal(getMessage(laptop.store.db, 'out-huge-001'), undefined)
      assert.equal(getMessage(laptop.store.db, 'out-fine-001')?.body, 'fine')
      assert.deepEqual(refused.map(e => [e.seq, e.reason]), [[1, 'invalid event: a body longer than 255 SMS parts']])
      // and it is passed on as it is: another device judges it by its own rules
      const tablet = await device()
      assert.equal(await replicate(laptop.store, tablet.store), 3)
    })

    it('differential: whatever the store lets a device write, a peer accepts and applies (2,000 seeded events at every limit)', async () => {
      const random = seededRandom(14)
      const phone = await device()
      const laptop = await device()
      let written = 0
      let refused = 0
      for (let i = 0; i < 2_000; i++) {
        const { event, audience } = randomEvent(random, phone.id, [phone.id, laptop.id])
        try {
          await phone.store.write(tx => { tx.append(event, audience) })
          written++
        } catch (err) {
          assert.equal((err as Error).name, 'InvalidEventError', (err as Error).message)
          refused++
        }
      }
      assert.ok(written > 500 && refused > 100, `both kinds were tried (${written} written, ${refused} refused)`)
      const kept: RefusedEntry[] = []
      laptop.store.on('refused', (entries) => { kept.push(...entries) })
      assert.equal(await replicate(phone.store, laptop.store), written)
      assert.deepEqual(kept.map(e => e.reason), [], 'the peer refused nothing the writer wrote')
      assert.deepEqual(laptop.store.versionVector(), { [phone.id]: written })
    })
  })

  describe('an event says only what its signer may say', () => {
    it('a member cannot log a message in the phone\'s name: it is not applied, and the phone does not send it', async () => {
      const phone = await device()
      const member = await device()
      const event: SmsEvent = { type: 'message', id: 'forged-0001', direction: 'out', from: null, to: [NUMBER], body: 'send this as the phone', author: phone.id, createdAt: 1, via: phone.id }
      assert.equal(await phone.store.ingest([forge(member, 1, event)], () => true), 1)
      assert.equal(getMessage(phone.store.db, 'forged-0001'), undefined)
      assert.equal(phone.store.db.prepare('SELECT COUNT(*) AS n FROM proxy_parts').get()?.n, 0, 'no work for the proxy')
      await assert.rejects(member.store.write(tx => { tx.append(event) }), { name: 'InvalidEventError' }, 'nor does the store write it')
    })

    it('only a device with an SMS backend logs incoming texts; one whose profile comes later is applied then', async () => {
      const phones = new Set<string>()
      const withoutBackend = new Set<string>()
      // what the daemon knows: a member's full profile says yes or no; a device not known yet (it moved to a new epoch, or its profile is on its way) is neither
      const laptop = await device(d => phones.has(d) ? true : withoutBackend.has(d) ? false : undefined)
      const kept: RefusedEntry[] = []
      laptop.store.on('refused', (entries) => { kept.push(...entries) })
      const member = await device()
      const bank = forge(member, 1, { type: 'message', id: 'in-bank-0001', direction: 'in', from: 'BANK', to: [], body: 'Your account is blocked, call +15550106666', author: member.id, createdAt: 1, via: member.id })
      withoutBackend.add(member.id)
      assert.equal(await laptop.store.ingest([bank], () => true), 1)
      assert.equal(getMessage(laptop.store.db, 'in-bank-0001'), undefined, 'a device without a backend cannot plant an incoming text')
      assert.deepEqual(kept.map(e => [e.reason, e.pending]), [['invalid event: an incoming SMS from a device without an SMS backend', false]], 'and it is told as a broken rule')
      assert.equal(await laptop.store.reconsider(), 0)
      withoutBackend.delete(member.id)
      phones.add(member.id)
      assert.equal(await laptop.store.reconsider(), 1)
      assert.equal(getMessage(laptop.store.db, 'in-bank-0001')?.from, 'BANK', 'once its profile says it has one, the text is applied')

      // a phone whose profile has not come yet: kept as waiting for it (no error), applied when it comes
      const phone = await device()
      const hello = forge(phone, 1, { type: 'message', id: 'in-hello-0001', direction: 'in', from: '+15550101001', to: [], body: 'hello', author: phone.id, createdAt: 2, via: phone.id })
      assert.equal(await laptop.store.ingest([hello], () => true), 1)
      assert.equal(getMessage(laptop.store.db, 'in-hello-0001'), undefined)
      assert.equal(kept[1]?.pending, true, `waiting for a profile is not a broken rule (${kept[1]?.reason})`)
      assert.match(kept[1]?.reason ?? '', /profile is known/)
      phones.add(phone.id)
      assert.equal(await laptop.store.reconsider(), 1)
      assert.equal(getMessage(laptop.store.db, 'in-hello-0001')?.body, 'hello')
    })

    it('statuses count only from the message\'s proxy, and pending from its author; a forged sender number is ignored', async () => {
      const laptop = await device()
      const phone = await device()
      const member = await device()
      const tablet = await device()
      await laptop.store.write(tx => { tx.append({ type: 'message', id: 'message-0001', direction: 'out', from: null, to: [NUMBER], body: 'hi', author: laptop.id, createdAt: 1000, via: phone.id }) })
      await phone.store.write(tx => { tx.append({ type: 'status', id: 'message-0001', status: 'accepted', at: 1001, from: PHONE_NUMBER }) })
      const lies = [
        forge(member, 1, { type: 'status', id: 'message-0001', status: 'failed', at: 1002, reason: 'the member says so', from: '+15550109999' }),
        forge(member, 2, { type: 'status', id: 'message-0001', status: 'delivered', at: 1003 })
      ]
      // the lies first, then the truth: the same view whatever the order
      assert.equal(await tablet.store.ingest(lies, () => true), 2)
      await replicate(laptop.store, tablet.store)
      await replicate(phone.store, tablet.store)
      // a lie that comes after the message is also kept unapplied, and logged
      const refused: RefusedEntry[] = []
      tablet.store.on('refused', (entries) => { refused.push(...entries) })
      assert.equal(await tablet.store.ingest([forge(member, 3, { type: 'status', id: 'message-0001', status: 'sent', at: 1004 })], () => true), 1)
      assert.deepEqual(refused.map(e => e.reason), ['invalid event: a status (sent) of a message its origin does not carry'])
      const m = getMessage(tablet.store.db, 'message-0001')
      assert.equal(m?.status, 'accepted')
      assert.equal(m?.from, PHONE_NUMBER)
      assert.deepEqual(m?.statusHistory.map(s => [s.status, s.device]), [['pending', laptop.id], ['accepted', phone.id]])
    })

    it('only the author hands its message to a proxy, also when another device\'s assignment comes first', async () => {
      const laptop = await device()
      const phone = await device()
      const member = await device()
      const tablet = await device()
      await laptop.store.write(tx => {
        tx.append({ type: 'message', id: 'message-0002', direction: 'out', from: null, to: [NUMBER], body: 'hi', author: laptop.id, createdAt: 1000 })
        tx.append({ type: 'assign', id: 'message-0002', via: phone.id })
      })
      assert.equal(await tablet.store.ingest([forge(member, 1, { type: 'assign', id: 'message-0002', via: member.id })], () => true), 1)
      await replicate(laptop.store, tablet.store)
      assert.equal(getMessage(tablet.store.db, 'message-0002')?.via, phone.id)
    })

    it('checks every signature, also of an event its origin sent itself', async () => {
      const phone = await device()
      const laptop = await device()
      await incoming(phone, 'in-genuine-1', 'the real text')
      const [entry] = await wireEntries(phone.store, laptop.id)
      assert.ok(entry != null && 'signed' in entry)
      const corrupted = { signed: { ...entry.signed, payload: entry.signed.payload.replace('the real text', 'a fake text!') } }
      await assert.rejects(laptop.store.ingest([corrupted], () => true), /bad signature/)
      assert.deepEqual(laptop.store.versionVector(), {})
      assert.equal(await laptop.store.ingest([entry], () => true), 1)
    })
  })

  describe('placeholders never hide an event', () => {
    it('an unproven or forged placeholder is ignored, and a stub is taken only by devices outside the event\'s audience', async () => {
      const phone = await device()
      const laptop = await device()
      const tablet = await device()
      const member = await device()
      await incoming(phone, 'in-private-1', 'for the laptop only', [phone.id, laptop.id])
      const forTablet = await wireEntries(phone.store, tablet.id)
      assert.ok(forTablet[0] != null && 'stub' in forTablet[0], 'the tablet gets a stub')
      // a member makes up a stub for the laptop (in the audience) and signs it itself
      const made = { text: JSON.stringify({ origin: phone.id, seq: 1, audience: [phone.id] }), sig: new EventSigner(member.key).seal({ origin: phone.id, seq: 1, event: { type: 'read', ids: ['abcdefgh'], at: 1 } }).sig }
      await assert.rejects(laptop.store.ingest([{ stub: made }], () => true), /bad stub signature/)
      // the phone's real stub, relayed to the laptop, which is in the audience: not taken
      assert.equal(await laptop.store.ingest(forTablet, () => true), 0)
      assert.deepEqual(laptop.store.versionVector(), {})
      assert.equal(await replicate(phone.store, laptop.store), 1)
      assert.equal(getMessage(laptop.store.db, 'in-private-1')?.body, 'for the laptop only')
      assert.equal(await tablet.store.ingest(forTablet, () => true), 1)
      assert.equal(getMessage(tablet.store.db, 'in-private-1'), undefined)
      assert.deepEqual(tablet.store.versionVector(), { [phone.id]: 1 })
    })

    it('with no attacker: D, in the audience, catches up first from C, which is not, and still gets the text', async () => {
      const phone = await device()
      const c = await device()
      const d = await device()
      await incoming(phone, 'in-private-2', 'for D', [phone.id, d.id])
      await incoming(phone, 'in-public-02', 'for everyone')
      await replicate(phone.store, c.store)
      assert.deepEqual(c.store.versionVector(), { [phone.id]: 2 })
      await replicate(c.store, d.store)
      assert.deepEqual(d.store.versionVector(), { [phone.id]: 0 }, 'the gap stays open: D waits for the text itself')
      assert.equal(getMessage(d.store.db, 'in-public-02')?.body, 'for everyone')
      await replicate(phone.store, d.store)
      assert.equal(getMessage(d.store.db, 'in-private-2')?.body, 'for D')
      assert.deepEqual(d.store.versionVector(), { [phone.id]: 2 })
    })

    it('the event replaces a placeholder a device already holds (from a file of an older version)', async () => {
      const phone = await device()
      const laptop = await device()
      await incoming(phone, 'in-replace-1', 'hidden once, shown now')
      laptop.store.db.prepare("INSERT INTO events (origin, seq, payload, sig, hidden) VALUES (?, 1, '', x'', 1)").run(phone.id)
      laptop.store.db.prepare('INSERT INTO origins (origin, contiguous) VALUES (?, 1)').run(phone.id)
      assert.equal(await replicate(phone.store, laptop.store), 1)
      assert.equal(getMessage(laptop.store.db, 'in-replace-1')?.body, 'hidden once, shown now')
    })
  })

  describe('storage faults lose nothing and stall nothing', () => {
    it('a BEGIN that finds the file locked fails that write with a clear error, and the next write succeeds', async () => {
      const laptop = await device()
      laptop.db.fail('BEGIN', SQLITE_BUSY)
      await assert.rejects(laptop.store.write(tx => { tx.append({ type: 'read', ids: ['abcdefgh'], at: 1 }) }), { name: 'StorageError', message: /database is locked.*try again/ })
      await laptop.store.write(tx => { tx.append({ type: 'read', ids: ['abcdefgh'], at: 2 }) })
      assert.deepEqual(laptop.store.versionVector(), { [laptop.id]: 1 })
    })

    it('a COMMIT that fails (disk full) keeps nothing of its batch, and the next event takes the same number', async () => {
      const phone = await device()
      const laptop = await device()
      phone.db.fail('COMMIT', SQLITE_FULL)
      const writes = [incoming(phone, 'in-lost-0001', 'one'), incoming(phone, 'in-lost-0002', 'two')]
      for (const w of writes) await assert.rejects(w, { name: 'StorageError', message: /disk is full/ })
      assert.equal(listMessages(phone.store.db, { limit: 10 }).length, 0)
      await incoming(phone, 'in-kept-0001', 'three')
      assert.deepEqual(phone.store.versionVector(), { [phone.id]: 1 })
      await replicate(phone.store, laptop.store)
      assert.equal(getMessage(laptop.store.db, 'in-kept-0001')?.body, 'three')
    })

    it('a disk that fills up (a 2 MiB tmpfs) fails writes with a clear error, and they succeed once there is room', async () => {
      const dir = mkdtempSync(join(tmp.path, 'tmpfs-'))
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir])
      let phone: TestSmsDevice | undefined
      try {
        phone = await smsDevice(dir, 'phone')
        await incoming(phone, 'in-before-01', 'before the disk filled up')
        const filler = join(dir, 'filler')
        const fd = openSync(filler, 'w')
        try {
          const chunk = Buffer.alloc(64 * 1024, 1)
          while (true) writeSync(fd, chunk)
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC')
        } finally {
          closeSync(fd)
        }
        const body = 'x'.repeat(30_000)
        await assert.rejects(incoming(phone, 'in-full-0001', body), { name: 'StorageError', message: /full|I\/O/ })
        assert.equal(getMessage(phone.store.db, 'in-full-0001'), undefined)
        unlinkSync(filler)
        await incoming(phone, 'in-full-0001', body)
        assert.equal(getMessage(phone.store.db, 'in-full-0001')?.body, body)
        assert.deepEqual(phone.store.versionVector(), { [phone.id]: 2 })
      } finally {
        phone?.store.close()
        execFileSync('umount', [dir])
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('a long text from an AT modem stays on the SIM while it cannot be stored, and is stored once when it can', async () => {
      const modem = new ModemSim()
      const port = await modem.listen()
      const phone = await device()
      const backend = new AtBackend(`at+tcp://127.0.0.1:${port}?timeout=1500`, { incoming: async (sms) => { await proxy.incoming(sms) }, report: async () => {}, stored: async () => {}, changed: () => {} })
      const proxy = proxyOf(phone, backend)
      try {
        await proxy.start()
        await backend.start()
        await until('the modem backend ready', 5_000, () => backend.ready)
        const long = 'A text in three parts or more, which the disk cannot take at first. '.repeat(5)
        const parts = deliverPdus(long, NUMBER)
        assert.ok(parts.length >= 3)
        phone.db.fail('COMMIT', SQLITE_FULL)
        for (const pdu of parts) modem.deliver(pdu)
        await until('the injected faults used up', 5_000, () => phone.db.pendingFaults === 0)
        await new Promise(resolve => setTimeout(resolve, 200))
        assert.equal(modem.storage.size, parts.length, 'every part is still on the SIM')
        await until('the long text stored', 10_000, () => listMessages(phone.store.db, { limit: 10 }).some(m => m.body === long))
        await until('the parts deleted from the SIM', 5_000, () => modem.storage.size === 0)
        assert.equal(listMessages(phone.store.db, { limit: 10 }).filter(m => m.body === long).length, 1)
      } finally {
        proxy.stop()
        await backend.stop()
        await modem.close()
      }
    })

    it('the proxy writes an outcome it could not write at first: the text ends sent, carried once, never outcome unknown', async () => {
      const phone = await device()
      await withSimPhone(phone, { latencyMs: 300 }, async (carrier) => {
        await phone.store.write(tx => { tx.append({ type: 'message', id: 'outcome-001', direction: 'out', from: null, to: [NUMBER], body: 'went out', author: phone.id, createdAt: 1, via: phone.id }) })
        await until('a part handed to the network', 5_000, () => phone.store.db.prepare("SELECT 1 FROM proxy_parts WHERE state = 'handing'").get() != null)
        // the network has it; the disk refuses the next three writes
        phone.db.fail('COMMIT', SQLITE_FULL, 3)
        await until('outcome-001 sent', 15_000, () => getMessage(phone.store.db, 'outcome-001')?.status === 'sent')
        assert.equal(phone.db.pendingFaults, 0)
        assert.deepEqual(carrier.log().map(e => e.body), ['went out'])
      })
    })

    it('the proxy decides again after a failed write: a message it could not accept at first still goes out', async () => {
      const phone = await device()
      await withSimPhone(phone, {}, async (carrier) => {
        // the message is on disk; the proxy's decision on it, the next write, finds the file locked
        phone.store.once('changes', () => { phone.db.fail('BEGIN', SQLITE_BUSY) })
        await phone.store.write(tx => { tx.append({ type: 'message', id: 'decide-0001', direction: 'out', from: null, to: [NUMBER], body: 'decided late', author: phone.id, createdAt: 1, via: phone.id }) })
        await until('decide-0001 sent', 10_000, () => getMessage(phone.store.db, 'decide-0001')?.status === 'sent')
        assert.equal(phone.db.pendingFaults, 0)
        assert.deepEqual(carrier.log().map(e => e.body), ['decided late'])
      })
    })
  })
})

/** The proxy role of `phone` on `backend`, letting every device send, as a daemon's would. */
function proxyOf (phone: TestSmsDevice, backend: SmsBackend): SmsProxy {
  return new SmsProxy({ store: phone.store, backend, maySend: () => true, receivers: () => undefined, policy: () => ({ rate: 30, deny: [], allow: [] }), log })
}

/** `phone` as a proxy on a simulated carrier (options as `companion carrier` takes them), ready when `run` starts. */
async function withSimPhone (phone: TestSmsDevice, options: { latencyMs?: number }, run: (carrier: Carrier) => Promise<void>): Promise<void> {
  const carrier = new Carrier({ host: '127.0.0.1', port: 0, ...options })
  const { port } = await carrier.listen()
  const backend = new SimBackend(`sim://127.0.0.1:${port}/${PHONE_NUMBER}`, { incoming: async () => {}, report: async () => {}, stored: async () => {}, changed: () => { proxy.kick() } })
  const proxy = proxyOf(phone, backend)
  try {
    await backend.start()
    await until('the modem backend ready', 5_000, () => backend.ready)
    await proxy.start()
    await run(carrier)
  } finally {
    proxy.stop()
    await backend.stop()
    await carrier.close()
  }
}

