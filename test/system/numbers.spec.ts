import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Device, eventually, keepLogsOnFailure, tempDir, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier } from '../../testbed/sms.ts'
import { TermuxPhoneStore } from '../../testbed/termux.ts'
import type { MessageView, NumberView } from '../../sms/view-types.ts'
import { png } from '../../testbed/png.ts'
import { launchBrowser, newPage, screenshot } from '../../testbed/browser.ts'
import { rogueNode } from '../../testbed/rogue.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { NUMBER_PROTOCOL } from '../../node/number-claims.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'
const HIDDEN = '+15550100004'
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

describe('numbers verified by SMS between two companion-link accounts (and one that lies)', function () {
  this.timeout(180_000)
  const tmp = tempDir()
  const carrier = new SimCarrier(undefined, 0)
  let anaPhone: Device, anaLaptop: Device, benPhone: Device, benTablet: Device, mallory: Device, hidden: Device
  const sim = (number: string): string => `sim://127.0.0.1:${carrier.port}/${number}`
  const accountOf = async (d: Device): Promise<string> => (await d.json<{ account: string }>('status')).account

  before(async () => {
    await carrier.start()
    const env = { DEBUG: 'companion:*' }
    anaPhone = new Device({ dataDir: join(tmp.path, 'ana-phone'), name: 'ana-phone', env, args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(ANA), '--no-ui'] })
    await anaPhone.start()
    const address = (await anaPhone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    const boot = ['--bootstrap', address, '--no-ui']
    anaLaptop = new Device({ dataDir: join(tmp.path, 'ana-laptop'), name: 'ana-laptop', env, args: [...LOOPBACK, '--bootstrap', address] })
    // Ben lets others know when he read their texts
    benPhone = new Device({ dataDir: join(tmp.path, 'ben-phone'), name: 'ben-phone', env, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', sim(BEN), '--read-receipts'] })
    // Mallory's phone says it is Ben's number (Termux takes the number it is told); it never gets Ben's texts
    const store = new TermuxPhoneStore(join(tmp.path, 'mallory-termux'))
    mallory = new Device({ dataDir: join(tmp.path, 'mallory'), name: 'mallory', env: { ...env, ...store.env() }, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', `termux?number=${BEN}`] })
    // the tablet's page shows the pictures Ben gets
    benTablet = new Device({ dataDir: join(tmp.path, 'ben-tablet'), name: 'ben-tablet', env, args: [...LOOPBACK, '--bootstrap', address, '--kind', 'tablet', '--read-receipts'] })
    hidden = new Device({ dataDir: join(tmp.path, 'hidden'), name: 'hidden', env, args: [...LOOPBACK, ...boot, '--kind', 'phone', '--sms', sim(HIDDEN), '--no-discoverable'] })
    await Promise.all([anaLaptop.start(), benPhone.start(), benTablet.start(), mallory.start(), hidden.start()])
    await until('the laptop sees Ana\'s phone', 15_000, async () => (await anaLaptop.json<Array<{ id: string, online: boolean }>>('devices')).some(d => d.id === anaPhone.id && d.online))
    await pair(anaLaptop, anaPhone)
    await until('the tablet sees Ben\'s phone', 15_000, async () => (await benTablet.json<Array<{ id: string, online: boolean }>>('devices')).some(d => d.id === benPhone.id && d.online))
    await pair(benTablet, benPhone)
    for (const phone of [benPhone, mallory, hidden]) await until(`${phone.init.name ?? ''} ready`, 15_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    await until('Ana\'s phone is the laptop\'s proxy', 15_000, async () => (await anaLaptop.json<Array<{ id: string, capabilities: string[] }>>('devices')).find(d => d.id === anaPhone.id)?.capabilities.includes('sms.send') === true)
  })

  afterEach(async function () {
    await keepLogsOnFailure(this.currentTest, [anaPhone, anaLaptop, benPhone, benTablet, mallory, hidden])
  })

  after(async () => {
    await Promise.allSettled([anaPhone, anaLaptop, benPhone, benTablet, mallory, hidden].map(async d => await d?.stop()))
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

  it('refuses what a stranger sends on the number protocol: garbage, texts as a number not bound to it, guessed proofs', async () => {
    const address = (await anaPhone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    const rogue = await rogueNode(join(tmp.path, 'rogue'), 'rogue', { bootstrap: [address] })
    try {
      const ask = async (message: unknown): Promise<Record<string, unknown>> => {
        const stream = await rogue.libp2p.dialProtocol(peerIdFromString(benPhone.id), NUMBER_PROTOCOL)
        const lp = lpStream(stream)
        await lp.write(new TextEncoder().encode(typeof message === 'string' ? message : JSON.stringify(message)))
        const answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Record<string, unknown>
        await stream.close()
        return answer
      }
      const identity = { cert: Buffer.from(rogue.account.certificate).toString('base64'), chain: Buffer.from(rogue.account.chainRecord).toString('base64') }
      assert.deepEqual(await ask('not json at all'), { error: 'not a JSON object' })
      // a text as Ana's number, from an account that is not Ana's
      const forged = await ask({ t: 'text', id: 'forged-0001', from: ANA, to: BEN, body: 'send me your code', createdAt: Date.now(), ...identity })
      assert.match(String(forged.error), /is not verified as yours/)
      // Ana's laptop's certificate, shown on the rogue's own connection
      const file = JSON.parse(readFileSync(join(tmp.path, 'ana-laptop', 'account.json'), 'utf8')) as { cert: string, chain: string }
      const stolen = await ask({ t: 'text', id: 'forged-0002', from: ANA, to: BEN, body: 'send me your code', createdAt: Date.now(), cert: file.cert, chain: file.chain })
      assert.match(String(stolen.error), /a certificate of another device/)
      const guessed = await ask({ t: 'proof', number: BEN, from: ANA, mac: Buffer.alloc(32).toString('base64'), ...identity })
      assert.match(String(guessed.error), /no code from \+15550100001 has arrived here/)
      assert.equal((await messagesOn(benPhone)).filter(m => m.body === 'send me your code').length, 0, 'nothing stored')
      assert.deepEqual((await benPhone.json<NumberView[]>('numbers')).map(n => n.account), [await accountOf(anaLaptop)], 'nothing bound')
      assert.equal((await benPhone.json<{ sms: { ready: boolean } }>('status')).sms.ready, true, 'the phone carries on')
    } finally {
      await rogue.stop()
    }
  })

  it('finds no claim of a phone that is not discoverable, and says so', async () => {
    const result = await anaLaptop.cli('numbers', 'verify', HIDDEN)
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /no one on companion-link claims \+15550100004/)
    assert.equal((await carrier.log()).filter(e => e.to === HIDDEN).length, 0, 'no code texted when no one claims it')
  })

  type Message = Pick<MessageView, 'id' | 'body' | 'direction' | 'status' | 'route' | 'from' | 'read' | 'seenAt' | 'createdAt' | 'attachments' | 'reason'>
  const messagesOn = async (device: Device): Promise<Message[]> => await device.api.call('GET', '/v1/sms?limit=1000')
  const carried = async (body: string): Promise<number> => (await carrier.log()).filter(e => e.body === body).length
  const send = async (device: Device, to: string, body: string, ...flags: string[]): Promise<string> => {
    const result = await device.cli('sms', 'send', to, body, ...flags)
    assert.equal(result.code, 0, result.stderr)
    return result.stdout.trim()
  }

  it('carries a text to a verified number device to device: no SMS, delivered once a device of the account stored it', async () => {
    const id = await send(anaLaptop, BEN, 'over the network, free')
    const mine = await eventually('delivered', 20_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === id && m.status === 'delivered'))
    assert.equal(mine.route, 'network')
    for (const device of [benPhone, benTablet]) {
      const got = await eventually(`the text on ${device.init.name ?? ''}`, 15_000, async () => (await messagesOn(device)).find(m => m.body === 'over the network, free'))
      assert.deepEqual([got.direction, got.from, got.route, got.read], ['in', ANA, 'network', false])
    }
    assert.equal(await carried('over the network, free'), 0, 'not carried by the mobile network')
    assert.equal(mine.seenAt, null)
    // Ben reads it on his tablet: Ana's devices learn it (he sends read receipts)
    assert.equal((await benTablet.cli('sms', 'read', ANA)).code, 0)
    const seen = await eventually('read by Ben', 20_000, async () => (await messagesOn(anaPhone)).find(m => m.id === id && m.seenAt != null))
    assert.ok(seen.seenAt != null && seen.seenAt >= mine.createdAt)
    assert.equal((await messagesOn(mallory)).length, 0, 'the account that only claims Ben\'s number gets nothing')
  })

  it('carries files with a text device to device: a picture to every device at once, a large file when opened, none to a number not verified', async () => {
    const picture = join(tmp.path, 'sunset.png')
    writeFileSync(picture, png(96, 64))
    const video = join(tmp.path, 'holiday.mp4')
    writeFileSync(video, randomBytes(5 * 1024 * 1024 + 17))
    const id = await send(anaLaptop, BEN, 'the sunset, and a video', '--attach', picture, '--attach', video)
    const mine = await eventually('delivered', 60_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === id && m.status !== 'pending'))
    assert.deepEqual([mine.status, mine.route], ['delivered', 'network'], mine.reason)
    const files = [['sunset.png', statSync(picture).size, 'image/png'], ['holiday.mp4', statSync(video).size, 'video/mp4']]
    assert.deepEqual(mine.attachments.map(a => [a.name, a.size, a.type]), files)
    assert.equal(await carried('the sunset, and a video'), 0, 'not carried by the mobile network')
    // both of Ben's devices: the text, the picture at once; the video only where it arrived (4 MiB and more: when opened)
    const got = new Map<Device, Message>()
    for (const device of [benPhone, benTablet]) {
      got.set(device, await eventually(`the picture on ${device.init.name ?? ''}`, 20_000, async () => (await messagesOn(device)).find(m => m.body === 'the sunset, and a video' && m.attachments[0]?.here === true)))
      assert.deepEqual(got.get(device)?.attachments.map(a => [a.name, a.size, a.type]), files)
    }
    await eventually('the picture on Ana\'s phone too', 20_000, async () => (await messagesOn(anaPhone)).find(m => m.id === id && m.attachments[0]?.here === true))
    const lacking = [benPhone, benTablet].find(d => got.get(d)?.attachments[1]?.here === false)
    assert.ok(lacking != null, 'the video stays where it arrived until opened')
    const opened = join(tmp.path, 'opened.mp4')
    const result = await lacking.cli('sms', 'attachment', got.get(lacking)?.id ?? '', '--index', '1', '--out', opened)
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(readFileSync(opened), readFileSync(video))
    assert.equal((await messagesOn(lacking)).find(m => m.id === got.get(lacking)?.id)?.attachments[1]?.here, true)
    assert.equal((await messagesOn(mallory)).length, 0, 'the account that only claims Ben\'s number gets nothing')
    // no MMS here: a file to a number nobody verified is refused, and nothing is stored
    const refused = await anaLaptop.cli('sms', 'send', HIDDEN, 'a picture for you', '--attach', picture)
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /not a verified companion-link number: a text with attachments goes only device to device/)
    assert.equal((await messagesOn(anaLaptop)).filter(m => m.body === 'a picture for you').length, 0)
    // Ben's tablet shows the picture in its page
    const browser = await launchBrowser()
    try {
      const page = await newPage(browser)
      await page.goto((await benTablet.json<{ url: string }>('ui', '--no-open')).url)
      await page.locator('a.conversation', { hasText: '010 0001' }).click()
      const bubble = page.locator('.bubble-row.in', { hasText: 'the sunset, and a video' })
      const thumb = bubble.locator('img.thumb')
      await thumb.waitFor()
      await until('the picture drawn', 10_000, async () => await page.evaluate("(() => { const img = document.querySelector('.bubble-row.in img.thumb'); return img != null && img.complete && img.naturalWidth === 96 })()") as boolean)
      await bubble.locator('a.file', { hasText: 'holiday.mp4' }).waitFor()
      // and answers with a picture of his own, picked in the composer
      await page.locator('.composer input[type=file]').setInputFiles(picture)
      await page.locator('.picked li', { hasText: 'sunset.png' }).locator('.size', { hasText: 'KiB' }).or(page.locator('.picked li .size', { hasText: 'bytes' })).waitFor()
      await page.getByLabel('Message text').fill('mine')
      await page.getByRole('button', { name: 'Send' }).click()
      await page.locator('.bubble-row.out', { hasText: 'mine' }).locator('img.thumb').waitFor()
      const answer = await eventually('Ben\'s picture on Ana\'s laptop', 30_000, async () => (await messagesOn(anaLaptop)).find(m => m.body === 'mine' && m.attachments[0]?.here === true))
      assert.deepEqual(answer.attachments.map(a => [a.name, a.type]), [['sunset.png', 'image/png']])
      await screenshot(page, 'picture-on-companion-link')
    } finally {
      await browser.close()
    }
  })

  it('routes a group text per recipient: device to device to Ben, by SMS to the number nobody verified, once each; --sms-only by SMS to both', async () => {
    const id = await send(anaLaptop, `${BEN},${HIDDEN}`, 'dinner at eight, both of you')
    const mine = await eventually('sent', 40_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === id && (m.status === 'sent' || m.status === 'delivered' || m.status === 'failed')))
    assert.notEqual(mine.status, 'failed', mine.reason)
    const log = (await carrier.log()).filter(e => e.body === 'dinner at eight, both of you')
    assert.deepEqual(log.map(e => e.to), [HIDDEN], 'only the number nobody verified got an SMS')
    const got = await eventually('the group text on Ben\'s tablet', 20_000, async () => (await messagesOn(benTablet)).find(m => m.body === 'dinner at eight, both of you'))
    assert.deepEqual([got.from, got.route], [ANA, 'network'])
    assert.equal((await messagesOn(hidden)).filter(m => m.body === 'dinner at eight, both of you').length, 1)
    assert.equal((await messagesOn(mallory)).length, 0)
    const forced = await send(anaLaptop, `${BEN},${HIDDEN}`, 'by SMS, both', '--sms-only')
    await eventually('sent by SMS', 40_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === forced && (m.status === 'sent' || m.status === 'delivered')))
    assert.deepEqual((await carrier.log()).filter(e => e.body === 'by SMS, both').map(e => e.to).sort(), [BEN, HIDDEN])
  })

  it('reaches Ben\'s tablet while his phone is off, and Ben answers from the tablet', async () => {
    assert.equal(await benPhone.stop(), 0)
    const id = await send(anaLaptop, BEN, 'your phone is off')
    await eventually('delivered to the tablet', 20_000, async () => (await messagesOn(anaLaptop)).find(m => m.id === id && m.status === 'delivered'))
    await eventually('the text on the tablet', 10_000, async () => (await messagesOn(benTablet)).find(m => m.body === 'your phone is off'))
    const answer = await send(benTablet, ANA, 'answered from my tablet')
    const sent = await eventually('the answer delivered', 20_000, async () => (await messagesOn(benTablet)).find(m => m.id === answer && m.status === 'delivered'))
    assert.equal(sent.route, 'network')
    const got = await eventually('the answer on Ana\'s laptop', 15_000, async () => (await messagesOn(anaLaptop)).find(m => m.body === 'answered from my tablet'))
    assert.deepEqual([got.from, got.route], [BEN, 'network'])
    assert.equal(await carried('your phone is off') + await carried('answered from my tablet'), 0)
  })

  it('shows on the page which texts went device to device, and the verified numbers', async () => {
    const browser = await launchBrowser()
    try {
      const page = await newPage(browser)
      await page.goto((await anaLaptop.json<{ url: string }>('ui', '--no-open')).url)
      await page.locator('a.conversation[href="#/messages/%2B15550100002"]').click()
      await page.locator('.thread-head .badge.verified').waitFor()
      await page.locator('.bubble-row.in', { hasText: 'answered from my tablet' }).getByText('over companion-link').waitFor()
      await page.locator('.bubble-row.out', { hasText: 'over the network, free' }).getByText(/^Read · /).waitFor()
      await page.locator('nav a[href="#/devices"]').click()
      await page.locator('ul.numbers li', { hasText: '+1 555 010 0002' }).waitFor()
      await screenshot(page, 'numbers-on-companion-link')
    } finally {
      await browser.close()
    }
  })

  it('goes by SMS, once, when no device of the number\'s account answers; --network-only then fails, --sms-only always goes by SMS', async () => {
    assert.equal(await benTablet.stop(), 0)
    const id = await send(anaLaptop, BEN, 'nobody of Ben is online')
    const m = await eventually('sent by SMS', 40_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === id && (x.status === 'sent' || x.status === 'delivered')))
    assert.equal(m.route, 'sms')
    assert.equal(await carried('nobody of Ben is online'), 1)
    const only = await send(anaLaptop, BEN, 'network or nothing', '--network-only')
    const failed = await eventually('failed', 40_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === only && x.status === 'failed'))
    assert.equal(failed.route, null)
    assert.equal(await carried('network or nothing'), 0)
    const forced = await send(anaLaptop, BEN, 'SMS whatever', '--sms-only')
    assert.equal((await eventually('forced by SMS', 20_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === forced && (x.status === 'sent' || x.status === 'delivered')))).route, 'sms')
    assert.equal(await carried('SMS whatever'), 1)
    const refused = await anaLaptop.cli('sms', 'send', HIDDEN, 'not verified', '--network-only')
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /not a verified companion-link number/)
  })

  it('verifies again, and sends by SMS meanwhile, once the number\'s account changed its keys (a device removed)', async () => {
    await benPhone.start()
    await benTablet.start()
    await until('Ben\'s devices together again', 20_000, async () => (await benPhone.json<Array<{ id: string, online: boolean }>>('devices')).some(d => d.id === benTablet.id && d.online))
    // Ben removes his tablet: his account's keys change (epoch 1)
    assert.equal((await benPhone.cli('unpair', benTablet.id)).code, 0)
    const id = await send(anaLaptop, BEN, 'after Ben changed keys')
    const m = await eventually('sent by SMS', 60_000, async () => (await messagesOn(anaLaptop)).find(x => x.id === id && (x.status === 'sent' || x.status === 'delivered')))
    assert.equal(m.route, 'sms', 'not to devices whose keys changed since the number was verified')
    assert.equal(await carried('after Ben changed keys'), 1)
    // verified again in the background: the binding now holds Ben's new epoch, and texts go device to device again
    await eventually('verified again', 60_000, async () => (await carrier.log()).filter(e => e.to === BEN && e.body.startsWith('companion-link number check')).length >= 2 ? true : undefined)
    const next = await eventually('device to device again', 60_000, async () => {
      const sent = await send(anaLaptop, BEN, `again ${Date.now()}`)
      const x = await eventually('settled', 40_000, async () => (await messagesOn(anaLaptop)).find(y => y.id === sent && (y.status === 'delivered' || y.status === 'sent')))
      return x.route === 'network' ? x : undefined
    }, 2_000)
    assert.equal(next.status, 'delivered')
  })
})
