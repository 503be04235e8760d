import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Device, eventually, keepLogsOnFailure, tempDir, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier } from '../../testbed/sms.ts'
import { TermuxPhoneStore } from '../../testbed/termux.ts'
import type { NumberView } from '../../sms/view-types.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'
const HIDDEN = '+15550100004'
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

describe('numbers verified by SMS between two companion-link accounts (and one that lies)', function () {
  this.timeout(180_000)
  const tmp = tempDir()
  const carrier = new SimCarrier(undefined, 0)
  let anaPhone: Device, anaLaptop: Device, benPhone: Device, mallory: Device, hidden: Device
  const sim = (number: string): string => `sim://127.0.0.1:${carrier.port}/${number}`
  const accountOf = async (d: Device): Promise<string> => (await d.json<{ account: string }>('status')).account

  before(async () => {
    await carrier.start()
    const env = { DEBUG: 'companion:*' }
    anaPhone = new Device({ dataDir: join(tmp.path, 'ana-phone'), name: 'ana-phone', env, args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(ANA), '--no-ui'] })
    await anaPhone.start()
    const address = (await anaPhone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    const boot = ['--bootstrap', address, '--no-ui']
    anaLaptop = new Device({ dataDir: join(tmp.path, 'ana-laptop'), name: 'ana-laptop', env, args: [...LOOPBACK, ...boot] })
    benPhone = new Device({ dataDir: join(tmp.path, 'ben-phone'), name: 'ben-phone', env, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', sim(BEN)] })
    // Mallory's phone says it is Ben's number (Termux takes the number it is told); it never gets Ben's texts
    const store = new TermuxPhoneStore(join(tmp.path, 'mallory-termux'))
    mallory = new Device({ dataDir: join(tmp.path, 'mallory'), name: 'mallory', env: { ...env, ...store.env() }, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', `termux?number=${BEN}`] })
    hidden = new Device({ dataDir: join(tmp.path, 'hidden'), name: 'hidden', env, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', sim(HIDDEN), '--no-discoverable'] })
    await Promise.all([anaLaptop.start(), benPhone.start(), mallory.start(), hidden.start()])
    await until('the laptop sees Ana\'s phone', 15_000, async () => (await anaLaptop.json<Array<{ id: string, online: boolean }>>('devices')).some(d => d.id === anaPhone.id && d.online))
    await pair(anaLaptop, anaPhone)
    for (const phone of [benPhone, mallory, hidden]) await until(`${phone.init.name ?? ''} ready`, 15_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    await until('Ana\'s phone is the laptop\'s proxy', 15_000, async () => (await anaLaptop.json<Array<{ id: string, capabilities: string[] }>>('devices')).find(d => d.id === anaPhone.id)?.capabilities.includes('sms.send') === true)
  })

  afterEach(async function () {
    await keepLogsOnFailure(this.currentTest, [anaPhone, anaLaptop, benPhone, mallory, hidden])
  })

  after(async () => {
    await Promise.allSettled([anaPhone, anaLaptop, benPhone, mallory, hidden].map(async d => await d?.stop()))
    carrier.stop()
    tmp.cleanup()
  })

  it('binds Ben\'s number to Ben\'s account, never to the account that only claims it, and Ana\'s to Ana\'s on Ben\'s side', async () => {
    const result = await anaLaptop.cli('numbers', 'verify', BEN, '--json')
    assert.equal(result.code, 0, result.stderr)
    const lines = result.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    const ben = await accountOf(benPhone)
    assert.deepEqual(lines.map(l => l.event), ['claimed', 'code-sent', 'verified'])
    assert.equal(lines[0]?.accounts, 2, 'Ben and Mallory claim it')
    assert.equal(lines[1]?.from, ANA)
    assert.deepEqual(lines[2], { event: 'verified', number: BEN, account: ben })
    // one SMS, from Ana's number to Ben's, in plain words
    const texts = (await carrier.log()).filter(e => e.to === BEN)
    assert.equal(texts.length, 1)
    assert.equal(texts[0]?.from, ANA)
    assert.match(texts[0]?.body ?? '', /^companion-link number check: [A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}\. .*ignore this message\.$/)
    // for Ana's whole account, and Ana's number for Ben's
    for (const device of [anaLaptop, anaPhone]) {
      const bound = await eventually(`the binding on ${device.init.name ?? ''}`, 10_000, async () => { const n = await device.json<NumberView[]>('numbers'); return n.length > 0 ? n : undefined })
      assert.deepEqual(bound.map(n => [n.number, n.account, n.verified]), [[BEN, ben, true]])
    }
    const onBen = await benPhone.json<NumberView[]>('numbers')
    assert.deepEqual(onBen.map(n => [n.number, n.account]), [[ANA, await accountOf(anaLaptop)]])
    assert.deepEqual(await mallory.json<NumberView[]>('numbers'), [])
  })

  it('finds no claim of a phone that is not discoverable, and says so', async () => {
    const result = await anaLaptop.cli('numbers', 'verify', HIDDEN)
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /no one on companion-link claims \+15550100004/)
    assert.equal((await carrier.log()).filter(e => e.to === HIDDEN).length, 0, 'no code texted when no one claims it')
  })
})
