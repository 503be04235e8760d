import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { logger } from '@libp2p/logger'
import { tempDir, until } from '../../testbed/index.ts'
import { smsDevice, replicate, wireEntries, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { Carrier } from '../../carrier/server.ts'
import { SimBackend } from '../../sms/backends/sim.ts'
import { SmsProxy } from '../../sms/proxy.ts'
import { SmsStore } from '../../sms/store.ts'
import { EventSigner } from '../../sms/signed-events.ts'
import { AUTHOR_REMOVED, PROXY_REMOVED } from '../../sms/materialize.ts'
import { getMessage, listMessages } from '../../sms/views.ts'

const TO = ['+15550102030']
const REMOVED_AT = 5_000

describe('what a device the account removed left unsaid', function () {
  const tmp = tempDir()
  let n = 0
  const device = async (): Promise<TestSmsDevice> => await smsDevice(tmp.path, `removed-${n++}`)
  after(() => { tmp.cleanup() })

  /** `author` writes a text (to `via`, when given) at `createdAt`. */
  async function write (author: TestSmsDevice, id: string, createdAt: number, via?: TestSmsDevice): Promise<void> {
    await author.store.write(tx => {
      tx.append({ type: 'message', id, direction: 'out', from: null, to: TO, body: `text ${id}`, author: author.id, createdAt })
      if (via != null) tx.append({ type: 'assign', id, via: via.id })
    })
  }

  it('ends the text of a removed author that no phone took: failed, by its author, at the removal, the same whichever comes first', async () => {
    const laptop = await device()
    const phone = await device()
    const tablet = await device()
    await write(laptop, 'orphan-01', 1_000)
    await write(laptop, 'handed-01', 1_001, phone)
    await write(laptop, 'carried-1', 1_002, phone)
    await replicate(laptop.store, phone.store)
    await phone.store.write(tx => { tx.append({ type: 'status', id: 'carried-1', status: 'sent', at: 1_500 }) })
    await replicate(phone.store, tablet.store)
    assert.equal(getMessage(tablet.store.db, 'orphan-01')?.status, 'pending', 'a device that was not removed may still hand it on')

    assert.equal(await tablet.store.devicesRemoved(new Map([[laptop.id, REMOVED_AT]])), 1)
    const orphan = getMessage(tablet.store.db, 'orphan-01')
    assert.equal(orphan?.status, 'failed')
    assert.equal(orphan?.reason, AUTHOR_REMOVED)
    assert.deepEqual(orphan?.statusHistory.at(-1), { status: 'failed', at: REMOVED_AT, device: laptop.id, reason: AUTHOR_REMOVED })
    assert.equal(getMessage(tablet.store.db, 'handed-01')?.status, 'pending', 'a phone has it: the phone says what becomes of it')
    assert.equal(getMessage(tablet.store.db, 'carried-1')?.status, 'sent')
    assert.equal(await tablet.store.devicesRemoved(new Map([[laptop.id, REMOVED_AT]])), 0, 'a known removal changes nothing')

    // a device that learns of the removal before the texts comes to the same views
    const late = await device()
    await late.store.devicesRemoved(new Map([[laptop.id, REMOVED_AT]]))
    await replicate(tablet.store, late.store)
    assert.deepEqual(listMessages(late.store.db, { limit: 10 }), listMessages(tablet.store.db, { limit: 10 }))
  })

  it('ends a text whose removed phone never said it left failed(outcome unknown); what it said before its removal stands, also when it comes later', async () => {
    const laptop = await device()
    const phone = await device()
    const tablet = await device()
    await write(laptop, 'accepted1', 1_000, phone)
    await write(laptop, 'sent-0001', 1_001, phone)
    await replicate(laptop.store, phone.store)
    await phone.store.write(tx => {
      tx.append({ type: 'status', id: 'accepted1', status: 'accepted', at: 1_100, from: '+15550100002' })
      tx.append({ type: 'status', id: 'sent-0001', status: 'sent', at: 1_200 })
      tx.append({ type: 'message', id: 'incoming1', direction: 'in', from: TO[0] as string, to: ['+15550100002'], body: 'hi', author: phone.id, createdAt: 1_300, via: phone.id })
    })
    // the tablet holds the phone's log up to its acceptance only
    await replicate(laptop.store, tablet.store)
    await tablet.store.ingest((await wireEntries(phone.store, tablet.id, [phone.id])).slice(0, 1), () => true)
    assert.equal(getMessage(tablet.store.db, 'accepted1')?.status, 'accepted')

    assert.equal(await tablet.store.devicesRemoved(new Map([[phone.id, REMOVED_AT]])), 2)
    for (const id of ['accepted1', 'sent-0001']) {
      const m = getMessage(tablet.store.db, id)
      assert.equal(m?.status, 'failed', id)
      assert.equal(m?.reason, PROXY_REMOVED, id)
    }
    // the rest of the removed phone's log, relayed by a device that had it
    await replicate(phone.store, tablet.store)
    assert.equal(getMessage(tablet.store.db, 'sent-0001')?.status, 'sent', 'it said the text left before it was removed')
    assert.equal(getMessage(tablet.store.db, 'accepted1')?.status, 'failed')
    assert.equal(getMessage(tablet.store.db, 'incoming1')?.status, 'received', 'what it received stays received')
  })

  it('a phone sends nothing for a removed device, even a text handed to it before the removal, and says why', async () => {
    const carrier = new Carrier({ host: '127.0.0.1', port: 0 })
    const { port } = await carrier.listen()
    const laptop = await device()
    const tablet = await device()
    const phone = await device()
    await write(laptop, 'stolen-01', 1_000, phone)
    await write(tablet, 'kept-0001', 1_001, phone)
    await replicate(laptop.store, phone.store)
    await replicate(tablet.store, phone.store)
    const backend = new SimBackend(`sim://127.0.0.1:${port}/+15550100002`, { incoming: async () => {}, report: async (r) => { await proxy.report(r) }, stored: async () => {}, changed: () => { proxy.kick() } })
    await phone.store.devicesRemoved(new Map([[laptop.id, REMOVED_AT]]))
    const proxy = new SmsProxy({ store: phone.store, backend, maySend: () => true, receivers: () => undefined, policy: () => ({ rate: 30, deny: [], allow: [] }), log: logger('test:proxy') })
    try {
      await proxy.start()
      await backend.start()
      await until('the member\'s text sent', 10_000, () => getMessage(phone.store.db, 'kept-0001')?.status === 'sent')
      const refused = getMessage(phone.store.db, 'stolen-01')
      assert.equal(refused?.status, 'unauthorized')
      assert.match(refused?.reason ?? '', /removed from the account/)
      assert.deepEqual(carrier.log().map(e => e.body), ['text kept-0001'])
    } finally {
      proxy.stop()
      await backend.stop()
      await carrier.close()
    }
  })

  it('opens a file of the schema before removals without rebuilding its views, and keeps removals when views are rebuilt', async () => {
    const laptop = await device()
    const tablet = await device()
    await write(laptop, 'old-00001', 1_000)
    await replicate(laptop.store, tablet.store)
    const path = join(tmp.path, `removed-${n - 1}.db`)
    const open = (): SmsStore => new SmsStore({ path, self: tablet.id, signer: new EventSigner(tablet.key), hasBackend: () => true })
    tablet.store.close()
    let raw = new DatabaseSync(path)
    raw.exec('DROP TABLE removed_devices; PRAGMA user_version = 9')
    // a view no rebuild would write: it survives only if the views are kept
    raw.exec("UPDATE messages SET body = 'kept view' WHERE id = 'old-00001'")
    raw.close()
    let store = open()
    assert.equal(getMessage(store.db, 'old-00001')?.body, 'kept view')
    assert.equal(await store.devicesRemoved(new Map([[laptop.id, REMOVED_AT]])), 1)
    store.close()
    // a file of an older view rule: views built again from the log, the removal still known
    raw = new DatabaseSync(path)
    raw.exec('PRAGMA user_version = 8')
    raw.close()
    store = open()
    try {
      const m = getMessage(store.db, 'old-00001')
      assert.equal(m?.body, 'text old-00001', 'rebuilt from the log')
      assert.equal(m?.status, 'failed')
      assert.equal(m?.reason, AUTHOR_REMOVED)
    } finally {
      store.close()
    }
  })
})
