import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { tempDir, until } from '../../testbed/index.ts'
import { smsDevice, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { NetworkTexts, NotCarriedError, type Carried } from '../../sms/network-texts.ts'
import { SmsClient } from '../../sms/client.ts'
import { prepared } from '../../sms/materialize.ts'
import { getMessage } from '../../sms/views.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'
const BEN_ACCOUNT = '12D3KooWSFXKZYsaMU9thSNeJjZTmnjEWMzGyAYVQX4NYqAdPkeF'
const ANA_ACCOUNT = '12D3KooWB13Eqjj5kmNvrh2YkquHUsFeKvAhnASkUha9zhZzUhQs'

describe('texts device to device between companion accounts', function () {
  const tmp = tempDir()
  let n = 0
  after(() => { tmp.cleanup() })

  /** Ana's laptop, Ben's number verified; `carry` plays the network (what the node does). */
  async function laptop (carry: (text: Carried) => Promise<void>): Promise<{ device: TestSmsDevice, network: NetworkTexts, client: SmsClient, fallbacks: () => number }> {
    const device = await smsDevice(tmp.path, `ana-${n++}`)
    await device.store.write(tx => { tx.append({ type: 'binding', number: BEN, account: BEN_ACCOUNT, at: Date.now() }) })
    let fallbacks = 0
    const network = new NetworkTexts({ store: device.store, ownNumber: () => ANA, carry: async (text) => { await carry(text) }, deny: () => [], hasBlob: () => false, rate: 3, log: logger('test') })
    network.onFallback = () => { fallbacks++ }
    const client = new SmsClient({ store: device.store, candidates: () => [], log: logger('test') })
    return { device, network, client, fallbacks: () => fallbacks }
  }
  const state = (d: TestSmsDevice, id: string): string | undefined => (prepared(d.store.db, 'SELECT state FROM network_sends WHERE id = ?').get(id) as { state: string } | undefined)?.state

  it('is delivered and carried by its author once a device of the account stored it', async () => {
    const carried: Carried[] = []
    const ana = await laptop(async (text) => { carried.push(text) })
    assert.deepEqual(ana.network.binding([BEN]), { account: BEN_ACCOUNT, epoch: null })
    const { id } = await ana.client.sendOverNetwork([BEN], 'hi Ben', 'auto')
    ana.network.kick()
    await until('delivered', 5_000, () => getMessage(ana.device.store.db, id)?.status === 'delivered')
    const m = getMessage(ana.device.store.db, id)
    assert.deepEqual([m?.route, m?.via, m?.from], ['network', ana.device.id, ANA])
    assert.deepEqual(carried.map(c => [c.id, c.from, c.to, c.body]), [[id, ANA, BEN, 'hi Ben']])
    assert.equal(prepared(ana.device.store.db, 'SELECT COUNT(*) AS n FROM proxy_parts').get()?.n, 0, 'no radio\'s work')
  })

  it('goes to SMS only when it surely never left, and is carried again (never by SMS too) when it may have', async () => {
    const never = await laptop(async () => { throw new NotCarriedError('no device answered', false) })
    const a = await never.client.sendOverNetwork([BEN], 'first', 'auto')
    never.network.kick()
    await until('handed to SMS', 5_000, () => state(never.device, a.id) === 'sms')
    assert.equal(never.fallbacks(), 1)
    const waiting = prepared(never.device.store.db, "SELECT COUNT(*) AS n FROM messages WHERE via IS NULL AND id NOT IN (SELECT id FROM network_sends WHERE state != 'sms')").get()?.n
    assert.equal(waiting, 1, 'the client may now hand it to a phone')

    let attempts = 0
    const maybe = await laptop(async () => { attempts++; throw new NotCarriedError('the answer never came', attempts === 1) })
    const b = await maybe.client.sendOverNetwork([BEN], 'second', 'auto')
    maybe.network.kick()
    await until('tried', 5_000, () => attempts >= 1 && state(maybe.device, b.id) === 'handing')
    maybe.network.kick()
    await until('tried again', 5_000, () => attempts >= 2)
    // what the worker does with that failure is written a moment later
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(state(maybe.device, b.id), 'handing', 'it may have left: never SMS, even after a clean failure later')
    assert.equal(maybe.fallbacks(), 0)
    maybe.network.stop()
    // after a restart, a text that may have left is carried again, and its second carrying is the one that counts
    const restarted = new NetworkTexts({ store: maybe.device.store, ownNumber: () => ANA, carry: async () => {}, deny: () => [], hasBlob: () => false, rate: 3, log: logger('test') })
    restarted.kick()
    await until('delivered after the restart', 5_000, () => getMessage(maybe.device.store.db, b.id)?.status === 'delivered')
    assert.equal(getMessage(maybe.device.store.db, b.id)?.route, 'network')
  })

  it('trusts a binding 30 days: an older one sends by SMS (and the number is verified again)', async () => {
    const ana = await laptop(async () => {})
    await ana.device.store.write(tx => { tx.append({ type: 'binding', number: '+15550100003', account: BEN_ACCOUNT, at: Date.now() - 31 * 24 * 60 * 60_000 }) })
    assert.equal(ana.network.binding(['+15550100003']), undefined)
    assert.equal(ana.network.binding([BEN, '+15550100003']), undefined, 'a group goes by SMS')
  })

  it('fails a network-only text no device took, without SMS', async () => {
    const ana = await laptop(async () => { throw new NotCarriedError('no device answered', false) })
    const { id } = await ana.client.sendOverNetwork([BEN], 'only this way', 'network-only')
    ana.network.kick()
    await until('failed', 5_000, () => getMessage(ana.device.store.db, id)?.status === 'failed')
    assert.match(getMessage(ana.device.store.db, id)?.reason ?? '', /not carried over the network/)
    assert.equal(ana.fallbacks(), 0)
  })

  it('stores a text from an account bound to its sender\'s number once, and refuses any other, and a flood', async () => {
    const ben = await smsDevice(tmp.path, `ben-${n++}`)
    await ben.store.write(tx => {
      tx.append({ type: 'binding', number: ANA, account: ANA_ACCOUNT, at: Date.now() })
      tx.append({ type: 'binding', number: '+15550100066', account: ANA_ACCOUNT, at: Date.now() })
    })
    const network = new NetworkTexts({ store: ben.store, ownNumber: () => BEN, carry: async () => {}, deny: () => ['+15550100066'], hasBlob: () => false, rate: 2, log: logger('test') })
    const text = { id: 'text-0001', from: ANA, to: BEN, body: 'hello', createdAt: Date.now(), account: ANA_ACCOUNT }
    await network.receive(text)
    await network.receive(text)
    const stored = prepared(ben.store.db, "SELECT body, route, sender FROM messages WHERE direction = 'in'").all()
    assert.deepEqual(stored.map(r => ({ ...r })), [{ body: 'hello', route: 'network', sender: ANA }])
    await assert.rejects(network.receive({ ...text, id: 'text-0002', account: BEN_ACCOUNT }), /not verified as yours/, 'another account as Ana\'s number')
    await assert.rejects(network.receive({ ...text, id: 'text-0003', from: '+15550100066' }), /does not take texts from that number/, 'the deny list')
    // carried again it is the same text, and counts once against the limit
    await network.receive({ ...text, id: 'text-0004' })
    await assert.rejects(network.receive({ ...text, id: 'text-0005' }), /rate limit/)
    await network.receive(text)
  })

  it('takes a read receipt only from the account bound to the number, and only for its texts that went there device to device', async () => {
    const ana = await laptop(async () => {})
    const { id } = await ana.client.sendOverNetwork([BEN], 'read me', 'auto')
    const bySms = await ana.client.send([BEN], 'by SMS')
    ana.network.kick()
    await until('delivered', 5_000, () => getMessage(ana.device.store.db, id)?.status === 'delivered')
    await assert.rejects(ana.network.receipt({ from: BEN, to: ANA, ids: [id], account: ANA_ACCOUNT }), /not verified as yours/)
    assert.equal(getMessage(ana.device.store.db, id)?.seenAt, null)
    await ana.network.receipt({ from: BEN, to: ANA, ids: [id, bySms.id, 'not-a-message-id'], account: BEN_ACCOUNT })
    assert.ok((getMessage(ana.device.store.db, id)?.seenAt ?? 0) > 0)
    assert.equal(getMessage(ana.device.store.db, bySms.id)?.seenAt, null, 'not a text that went device to device')
  })
})
