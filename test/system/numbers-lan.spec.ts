import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Testbed, eventually, tempDir, type Device, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier } from '../../testbed/sms.ts'
import { TermuxPhoneStore } from '../../testbed/termux.ts'
import type { MessageView, NumberView } from '../../sms/view-types.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'

/**
 * The story of issue 19 on the namespaced LAN (mDNS, the LAN's DHT, real interfaces), beside
 * test/system/numbers.spec.ts, which plays every rule on loopback with the page.
 */
describe('texts between two companion accounts on the namespaced LAN', function () {
  this.timeout(180_000)
  const tmp = tempDir()
  const mallory = new TermuxPhoneStore(join(tmp.path, 'mallory-termux'))
  let bed: Testbed
  let carrier: SimCarrier
  let anaPhone: Device, anaLaptop: Device, benPhone: Device, benTablet: Device, malloryPhone: Device
  const messagesOn = async (d: Device): Promise<Array<Pick<MessageView, 'id' | 'body' | 'status' | 'route' | 'from' | 'attachments'>>> => await d.api.call('GET', '/v1/sms?limit=1000')
  const carried = async (body: string): Promise<number> => (await carrier.log()).filter(e => e.body === body).length
  const send = async (d: Device, to: string, body: string): Promise<string> => {
    const r = await d.cli('sms', 'send', to, body)
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.trim()
  }

  before(async () => {
    bed = new Testbed({
      devices: 5,
      links: 1,
      names: ['ana-phone', 'ana-laptop', 'ben-phone', 'ben-tablet', 'mallory'],
      args: (i) => ({
        1: ['--kind', 'phone', '--sms', `sim://127.0.0.1:7700/${ANA}`],
        2: ['--kind', 'laptop'],
        3: ['--kind', 'phone', '--sms', `sim://198.18.1.1:7700/${BEN}`],
        4: ['--kind', 'tablet'],
        // claims Ben's number; never gets his texts
        5: ['--kind', 'phone', '--sms', `termux?number=${BEN}`]
      })[i] ?? [],
      env: (i) => i === 5 ? mallory.env() : undefined
    })
    ;[anaPhone, anaLaptop, benPhone, benTablet, malloryPhone] = bed.devices as [Device, Device, Device, Device, Device]
    carrier = new SimCarrier(bed.lan.host(1).ns)
    await carrier.start()
    for (const d of bed.devices) await d.start()
    await until('all see each other', 20_000, async () => await bed.allSeeEachOther())
    await pair(anaLaptop, anaPhone)
    await pair(benTablet, benPhone)
    for (const phone of [anaPhone, benPhone, malloryPhone]) await until('the phone ready', 15_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
  })

  afterEach(async function () {
    const { keepLogsOnFailure } = await import('../../testbed/device.ts')
    await keepLogsOnFailure(this.currentTest, bed.devices)
  })

  after(async () => {
    carrier?.stop()
    await bed?.close()
    tmp.cleanup()
  })

  it('verifies Ben\'s number by one SMS, then carries texts device to device; with Ben\'s phone off his tablet gets them and answers', async () => {
    const verified = await anaLaptop.cli('numbers', 'verify', BEN)
    assert.equal(verified.code, 0, verified.stderr)
    const ben = (await benPhone.json<{ account: string }>('status')).account
    assert.deepEqual((await anaLaptop.json<NumberView[]>('numbers')).map(n => [n.number, n.account]), [[BEN, ben]])
    const id = await send(anaLaptop, BEN, 'hello over the LAN')
    assert.equal((await eventually('delivered', 20_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === id && m.status === 'delivered'))).route, 'network')
    await eventually('on Ben\'s tablet', 15_000, async () => (await messagesOn(benTablet)).find(m => m.body === 'hello over the LAN'))
    assert.equal(await carried('hello over the LAN'), 0)
    assert.equal(await benPhone.stop(), 0)
    const second = await send(anaLaptop, BEN, 'your phone is off')
    await eventually('delivered to the tablet', 20_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === second && m.status === 'delivered'))
    const answer = await send(benTablet, ANA, 'answering from the tablet')
    await eventually('the answer delivered', 20_000, async () => (await messagesOn(benTablet)).find(m => m.id === answer && m.status === 'delivered'))
    assert.equal((await eventually('on Ana\'s laptop', 15_000, async () => (await messagesOn(anaLaptop)).find(m => m.body === 'answering from the tablet'))).route, 'network')
    assert.equal(await carried('your phone is off') + await carried('answering from the tablet'), 0)
    assert.equal((await messagesOn(malloryPhone)).length, 0, 'the account claiming Ben\'s number got nothing')
  })

  it('carries a file whole to Ben\'s tablet (his phone off), its push going on after the tablet was killed in the middle, not from zero', async () => {
    const bytes = randomBytes(12 * 1024 * 1024)
    const file = join(tmp.path, 'film.mp4')
    writeFileSync(file, bytes)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const partial = join(benTablet.dataDir, 'blobs', 'partial', sha256)
    const arrived = (): number => existsSync(partial) ? statSync(partial).size : 0
    // a slow uplink on Ana's laptop (2 MB/s): the push takes seconds, time to kill the tablet in it
    bed.lan.limit(2, 'a', '16mbit')
    const before = bed.lan.received(4, 'a')
    try {
      const r = await anaLaptop.cli('sms', 'send', BEN, 'the film', '--attach', file)
      assert.equal(r.code, 0, r.stderr)
      const id = r.stdout.trim()
      await until('a third of it on the tablet', 30_000, () => arrived() > 4 * 1024 * 1024)
      await benTablet.stop('SIGKILL')
      const kept = arrived()
      assert.ok(kept > 0 && kept < bytes.byteLength, `${kept} bytes kept on the tablet's disk`)
      await benTablet.start()
      const m = await eventually('delivered', 120_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === id && x.status !== 'pending'))
      assert.deepEqual([m.status, m.route], ['delivered', 'network'])
      await eventually('the film on the tablet', 15_000, async () => (await messagesOn(benTablet)).find(x => x.body === 'the film' && x.attachments[0]?.here === true))
      assert.deepEqual(readFileSync(join(benTablet.dataDir, 'blobs', sha256)), bytes)
      // what the tablet's link received: the file about once, not the kept part again
      const received = bed.lan.received(4, 'a') - before
      assert.ok(received < bytes.byteLength * 1.15, `the tablet received ${received} bytes for a file of ${bytes.byteLength} (${kept} kept across its restart)`)
      assert.equal(await carried('the film'), 0)
    } finally {
      bed.lan.limit(2, 'a', undefined)
    }
  })

  it('goes by SMS, once, when Ben\'s last device left the LAN (its link cut)', async () => {
    // Ben's tablet leaves the LAN (its link goes down): no device of Ben's answers
    bed.lan.setLink(4, 'a', false)
    const id = await send(anaLaptop, BEN, 'the LAN is gone')
    const m = await eventually('sent by SMS', 60_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === id && (x.status === 'sent' || x.status === 'delivered')))
    assert.equal(m.route, 'sms')
    assert.equal(await carried('the LAN is gone'), 1)
    bed.lan.setLink(4, 'a', true)
  })
})
