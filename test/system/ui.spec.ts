import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { Device, eventually, keepLogsOnFailure, tempDir, until } from '../../testbed/index.ts'
import { pair, startPairing } from '../../testbed/pairing.ts'
import { SimCarrier, messageOn, messagesOn, send } from '../../testbed/sms.ts'
import { accessibilityProblems, launchBrowser, newPage, recordStatuses, screenshot, statusesSeen } from '../../testbed/browser.ts'

const PHONE = '+15550100002'
const FRIEND = '+15550100077'
const STRANGER = '+15550100099'
/** Nobody's phone: the carrier records texts to it as sent. */
const LONG_THREAD = '+15550100055'
const DESK = '+15550100088'
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/** A one-time link to `device`'s page, as `companion ui --no-open --json` prints it. */
async function uiLink (device: Device): Promise<string> {
  return (await device.json<{ url: string }>('ui', '--no-open')).url
}

describe('the web page, in Chromium', function () {
  this.timeout(180_000)
  const tmp = tempDir()
  const carrier = new SimCarrier(undefined, 0)
  let phone: Device, laptop: Device, tablet: Device, friend: Device
  let browser: Browser
  let laptopAddress = ''
  let joiner: Device | undefined
  const sim = (number: string): string => `sim://127.0.0.1:${carrier.port}/${number}`
  /** Devices a test started, stopped after all. */
  const extra: Device[] = []

  /** A desktop with a modem of its own (a second phone line for the account), started and not yet paired. */
  const startDesk = async (): Promise<Device> => {
    const desk = new Device({ dataDir: join(tmp.path, `desk-${extra.length}`), name: 'Desk', args: [...LOOPBACK, '--kind', 'desktop', '--bootstrap', laptopAddress, '--no-ui', '--sms', sim(DESK)] })
    extra.push(desk)
    await desk.start()
    return desk
  }

  /** The laptop's page, signed in: by the sign-in test when it ran, else here. */
  const laptopSignedIn = async (): Promise<Page> => {
    if (laptopPage == null) {
      laptopPage = await newPage(browser)
      await laptopPage.goto(await uiLink(laptop))
      await laptopPage.getByRole('heading', { name: 'Messages' }).waitFor()
    }
    return laptopPage
  }

  /** The desk as a member of the account: the one the pairing test paired through the page, else one paired here. */
  const deskMember = async (): Promise<Device> => {
    const rows = await laptop.json<Array<{ id: string, relation: string }>>('devices')
    if (joiner?.running === true && rows.find(r => r.id === joiner?.id)?.relation === 'member') return joiner
    const desk = await startDesk()
    await pair(desk, laptop)
    joiner = desk
    return desk
  }
  let laptopPage: Page | undefined, tabletPage: Page

  before(async () => {
    // slow enough that a bubble is seen waiting before it is sent, and sent before delivered
    await carrier.start('--latency', '700')
    // the daemons' debug logs (ours, and libp2p's connection refusals) are kept in test/out/logs when a test fails
    const env = { DEBUG: 'companion:*,libp2p:connection-manager' }
    phone = new Device({ dataDir: join(tmp.path, 'phone'), name: 'Pixel', env, args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(PHONE), '--sms-rate', '1000/min'] })
    await phone.start()
    const address = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'ThinkPad', env, args: [...LOOPBACK, '--kind', 'laptop', '--bootstrap', address] })
    tablet = new Device({ dataDir: join(tmp.path, 'tablet'), name: 'Tab', args: [...LOOPBACK, '--kind', 'tablet', '--bootstrap', address] })
    // someone else's phone, so that texts to FRIEND are delivered (with a delivery report)
    friend = new Device({ dataDir: join(tmp.path, 'friend'), name: 'friend', args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(FRIEND), '--no-ui'] })
    await Promise.all([laptop.start(), tablet.start(), friend.start()])
    laptopAddress = (await laptop.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    // on loopback with --no-mdns, the bootstrap dial introduces them: pair once each sees the phone
    for (const device of [laptop, tablet]) {
      await until(`${device.init.name ?? ''} sees the phone`, 10_000, async () =>
        (await device.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')).some(d => d.id === phone.id && d.online))
    }
    await pair(laptop, phone)
    await pair(tablet, phone)
    browser = await launchBrowser()
  })

  afterEach(async function () {
    await keepLogsOnFailure(this.currentTest, [phone, laptop, tablet, friend, ...extra])
  })

  after(async () => {
    await browser?.close().catch(() => {})
    await Promise.allSettled([phone, laptop, tablet, friend, ...extra].map(async d => await d?.stop()))
    carrier.stop()
    tmp.cleanup()
  })

  /** The bubble of an outgoing or incoming text on `page`. */
  const bubble = (page: Page, text: string) => page.locator('.bubble-row').filter({ hasText: text })
  const unreadBadge = (page: Page, number: string) => page.locator('a.conversation', { hasText: number.slice(-3) }).getByTestId('unread')

  it('signs in with the one-time link: the session is an HttpOnly, SameSite=Strict cookie', async () => {
    laptopPage = await newPage(browser)
    await laptopPage.goto(await uiLink(laptop))
    assert.equal(new URL(laptopPage.url()).pathname, '/', 'the token is exchanged and dropped from the address')
    await laptopPage.getByRole('heading', { name: 'Messages' }).waitFor()
    await laptopPage.getByText('No messages yet').waitFor()
    const [cookie, ...others] = await laptopPage.context().cookies()
    assert.equal(others.length, 0)
    assert.match(cookie?.name ?? '', /^companion_session_\d+$/)
    assert.equal(cookie?.httpOnly, true)
    assert.equal(cookie?.sameSite, 'Strict')
    assert.equal(await laptopPage.evaluate('document.cookie'), '', 'scripts cannot read the session')
    await screenshot(laptopPage, 'empty')
  })

  it('counts parts and encoding while typing, and sends with Enter: the bubble goes pending → sent → delivered live, carried once', async () => {
    const page = await laptopSignedIn()
    await page.getByRole('link', { name: 'New message' }).first().click()
    // typed as people write numbers: spaces, brackets, dashes
    await page.getByLabel('To', { exact: true }).fill('+1 (555) 010-0077')
    const input = page.getByLabel('Message text')
    const counter = page.getByTestId('counter')
    await input.fill('Hello')
    assert.equal(await counter.textContent(), '1 SMS · GSM-7 · 155 left')
    await input.fill('a'.repeat(161))
    assert.equal(await counter.textContent(), '2 SMS · GSM-7 · 145 left')
    // the extension table costs two septets per character: 20 × 12 septets make two parts
    await input.fill('{curly} €'.repeat(20))
    assert.match(await counter.textContent() ?? '', /^2 SMS · GSM-7 · \d+ left$/)
    const text = 'Dinner at 8? 🍝'
    await input.fill(text)
    assert.equal(await counter.textContent(), '1 SMS · UCS-2 · 55 left')
    await recordStatuses(page)
    await input.press('Enter')
    await page.waitForURL(url => decodeURIComponent(url.hash) === `#/messages/${FRIEND}`)
    const mine = bubble(page, text)
    await mine.waitFor()
    const id = await mine.getAttribute('data-id') ?? ''
    await page.locator(`[data-id="${id}"][data-status="delivered"]`).waitFor({ timeout: 20_000 })
    const seen = await statusesSeen(page, id)
    assert.equal(seen.at(-1), 'delivered', `statuses shown: ${seen.join(' → ')}`)
    assert.ok(seen.indexOf('sent') > 0, `a waiting status was shown before sent: ${seen.join(' → ')}`)
    assert.equal(await mine.getByTestId('status').textContent(), 'Delivered · sent by Pixel')
    assert.match(await mine.textContent() ?? '', /from ThinkPad \(this device\)/)
    assert.equal(await input.inputValue(), '', 'the composer is emptied')
    const carried = (await carrier.log()).filter(e => e.body === text)
    assert.equal(carried.length, 1, 'carried exactly once')
    assert.equal(carried[0]?.from, PHONE)
    await screenshot(page, 'conversation')
  })

  it('says in words why a message was not sent', async () => {
    const page = await laptopSignedIn()
    await page.getByRole('link', { name: 'New message' }).first().click()
    await page.getByLabel('To', { exact: true }).fill('not a number')
    await page.getByText('is not a phone number').waitFor()
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true)
    await page.getByLabel('To', { exact: true }).fill('12345')
    await page.getByLabel('Message text').fill('WIN')
    await screenshot(page, 'new-message')
    await page.getByLabel('Message text').press('Enter')
    const status = bubble(page, 'WIN').getByTestId('status')
    await status.filter({ hasText: 'Not sent' }).waitFor()
    assert.equal(await status.textContent(), 'Not sent: 12345 is a short code or premium number; allow it on the phone with --sms-allow 12345')
    assert.equal((await carrier.log()).filter(e => e.body === 'WIN').length, 0)
    await screenshot(page, 'failed')
  })

  it('shows an SMS from the network in the open conversation without reload, read at once everywhere', async () => {
    const laptopPage = await laptopSignedIn()
    await laptopPage.locator('a.conversation', { hasText: FRIEND.slice(-3) }).click()
    await bubble(laptopPage, 'Dinner').waitFor()
    await carrier.inject(FRIEND, PHONE, 'Sure! See you at 8 🙂')
    const incoming = bubble(laptopPage, 'See you at 8')
    await incoming.waitFor({ timeout: 15_000 })
    assert.equal(await incoming.getAttribute('class'), 'bubble-row in')
    // open and visible: read on every device, the phone included
    await until('the reply read on the phone', 15_000, async () =>
      (await messagesOn(phone)).find(m => m.body.startsWith('Sure!'))?.read === true)
  })

  it('drops the unread count on another device\'s page when the conversation is read here', async () => {
    const laptopPage = await laptopSignedIn()
    tabletPage = await newPage(browser)
    await tabletPage.goto(await uiLink(tablet))
    await laptopPage.locator('nav a[href="#/messages"]').click()
    await carrier.inject(STRANGER, PHONE, 'Your parcel arrives tomorrow')
    // both pages learn of it live
    await unreadBadge(tabletPage, STRANGER).waitFor({ timeout: 15_000 })
    assert.equal(await unreadBadge(tabletPage, STRANGER).textContent(), '1')
    await unreadBadge(laptopPage, STRANGER).waitFor({ timeout: 15_000 })
    await screenshot(tabletPage, 'conversations-unread')
    await laptopPage.locator('a.conversation', { hasText: STRANGER.slice(-3) }).click()
    await bubble(laptopPage, 'parcel').waitFor()
    await unreadBadge(tabletPage, STRANGER).waitFor({ state: 'detached', timeout: 15_000 })
    assert.equal(await tabletPage.locator('a.conversation').count(), 3)
  })

  it('finds messages by text', async () => {
    const laptopPage = await laptopSignedIn()
    await laptopPage.getByLabel('Search messages').fill('parcel')
    const result = laptopPage.getByRole('list', { name: 'Messages containing parcel' }).locator('a.conversation')
    await result.first().waitFor()
    assert.equal(await result.count(), 1)
    await laptopPage.getByLabel('Search messages').fill('')
  })

  it('loads older messages as the user scrolls up', async () => {
    // 5 replies from a number, then 70 texts to it (no phone answers there: the carrier records them as sent)
    for (let i = 0; i < 5; i++) await carrier.inject(LONG_THREAD, PHONE, `reply ${i}`)
    await until('5 replies on the laptop', 15_000, async () => (await messagesOn(laptop, `&with=${encodeURIComponent(LONG_THREAD)}`)).length === 5)
    for (let i = 0; i < 70; i++) await send(laptop, LONG_THREAD, `history ${i}`)
    await until('75 messages on the laptop', 15_000, async () => (await messagesOn(laptop, `&with=${encodeURIComponent(LONG_THREAD)}`)).length === 75)
    const page = await laptopSignedIn()
    await page.locator('a.conversation', { hasText: LONG_THREAD.slice(-3) }).click()
    await bubble(page, 'history 69').waitFor()
    const rows = page.locator('.bubble-row')
    assert.equal(await rows.count(), 50, 'one page first')
    // opening it read the 5 older, unread replies everywhere: news of messages older than the
    // page must not slip into it out of order
    await until('the replies read on the phone', 10_000, async () =>
      (await messagesOn(phone, `&with=${encodeURIComponent(LONG_THREAD)}`)).every(m => m.read))
    await page.waitForTimeout(300)
    assert.equal(await rows.count(), 50, 'still one page')
    // as a user does: the mouse wheel, up to the top
    await page.locator('.scroller').hover()
    await page.mouse.wheel(0, -100_000)
    await bubble(page, 'reply 0').waitFor()
    assert.equal(await rows.count(), 75)
    const texts = await page.locator('.bubble-row .body').allTextContents()
    assert.deepEqual(texts, [...Array.from({ length: 5 }, (_, i) => `reply ${i}`), ...Array.from({ length: 70 }, (_, i) => `history ${i}`)], 'in order, none twice')
  })

  it('accepts a pairing request with the code the joining device printed', async () => {
    const desk = await startDesk()
    const laptopPage = await laptopSignedIn()
    await laptopPage.locator('nav a[href="#/devices"]').click()
    await laptopPage.locator('[data-device="Desk"]').waitFor()
    await screenshot(laptopPage, 'devices-nearby')
    const attempt = startPairing(desk, laptop.id)
    const code = await attempt.code
    const request = laptopPage.getByRole('form', { name: 'Pairing request from Desk' })
    await request.waitFor()
    await screenshot(laptopPage, 'pairing-request')
    // a wrong code first: refused, and the joiner hears so
    await request.getByLabel('Type the code it shows').fill(code === '000000' ? '111111' : '000000')
    await request.getByRole('button', { name: 'Accept' }).click()
    await request.waitFor({ state: 'detached' })
    assert.equal((await attempt.result).code, 1)
    const second = startPairing(desk, laptop.id)
    const good = await second.code
    const again = laptopPage.getByRole('form', { name: 'Pairing request from Desk' })
    await again.getByLabel('Type the code it shows').fill(good)
    await again.getByRole('button', { name: 'Accept' }).click()
    const joined = await second.result
    assert.equal(joined.code, 0, joined.stderr)
    joiner = desk
    await laptopPage.locator('[data-device="Desk"]').getByRole('button', { name: 'Remove from my devices…' }).waitFor()
    await screenshot(laptopPage, 'devices')
  })

  it('lets the user pick the phone when the account has several', async () => {
    const desk = await deskMember()
    const page = await laptopSignedIn()
    await page.locator('nav a[href="#/messages"]').click()
    await page.getByRole('link', { name: 'New message' }).first().click()
    await page.getByLabel('To', { exact: true }).fill(FRIEND)
    const choice = page.getByLabel('Send via')
    await choice.waitFor()
    // a desk that just joined makes its connections again as a member: it may be offline for a moment
    const options = await eventually('the desk online as a phone to choose', 10_000, async () => {
      const texts = (await choice.locator('option').allTextContents()).map(o => o.split(' ·')[0]).sort()
      return texts.includes('Desk') ? texts : undefined
    })
    assert.deepEqual(options, ['Best available phone', 'Desk', 'Pixel'])
    await choice.selectOption(desk.id)
    await page.getByLabel('Message text').fill('From the desk modem')
    await page.getByLabel('Message text').press('Enter')
    const sent = bubble(page, 'From the desk modem')
    await sent.locator('[data-testid=status]', { hasText: 'Delivered · sent by Desk' }).waitFor({ timeout: 20_000 })
    assert.deepEqual((await carrier.log()).filter(e => e.body === 'From the desk modem').map(e => e.from), [DESK])
    await screenshot(page, 'phone-choice')
  })

  it('shows every link with kind, rank, RTT and the active one, updating live', async () => {
    const laptopPage = await laptopSignedIn()
    await laptopPage.locator('nav a[href="#/links"]').click()
    const phoneLinks = laptopPage.getByRole('region', { name: 'Links to Pixel' })
    await phoneLinks.locator('tr.active').waitFor()
    const cells = await phoneLinks.locator('tr.active td').allTextContents()
    assert.equal(cells[0], 'loopback')
    assert.match(cells[4] ?? '', /^\d+ ms$/)
    assert.equal(cells[5], 'active')
    await screenshot(laptopPage, 'links')
    // the tablet goes away and comes back: the page follows without a reload
    const tabLinks = laptopPage.getByRole('region', { name: 'Links to Tab' })
    await tabLinks.locator('tr.active').waitFor()
    // the daemon says so on its event stream too: no link to the tablet, then one again
    const events = laptop.api.events(['link'], AbortSignal.timeout(40_000))
    const linkEvents: Array<{ device: string, active: boolean }> = []
    const collecting = (async () => {
      for await (const e of events) {
        linkEvents.push(e.data as { device: string, active: boolean })
        if (linkEvents.some(l => l.device === tablet.id && !l.active) && linkEvents.some(l => l.device === tablet.id && l.active)) return
      }
    })().catch(() => {})
    await tablet.stop()
    await tabLinks.getByText('offline').waitFor()
    await tablet.start()
    await tabLinks.locator('tr.active').waitFor({ timeout: 20_000 })
    await collecting
    await events.return(undefined)
    const forTablet = linkEvents.filter(l => l.device === tablet.id).map(l => l.active)
    assert.deepEqual([forTablet.indexOf(false) >= 0, forTablet.lastIndexOf(true) > forTablet.indexOf(false)], [true, true], `link events: ${JSON.stringify(linkEvents)}`)
  })

  it('changes what a device may use, and removes a device from the account', async () => {
    const member = await deskMember()
    const laptopPage = await laptopSignedIn()
    await laptopPage.locator('nav a[href="#/devices"]').click()
    const desk = laptopPage.locator('[data-device="Desk"]')
    await desk.getByRole('checkbox', { name: 'Channels' }).uncheck()
    await until('the grant revoked', 10_000, async () =>
      (await laptop.json<Array<{ device: string, capability: string, allowed: boolean }>>('grants')).find(g => g.device === member.id && g.capability === 'channels')?.allowed === false)
    assert.equal(await desk.getByRole('checkbox', { name: 'Channels' }).isChecked(), false)
    await desk.getByRole('button', { name: 'Remove from my devices…' }).click()
    await desk.getByRole('alertdialog').getByRole('button', { name: 'Remove' }).click()
    await laptopPage.getByRole('region', { name: 'Your devices' }).locator('[data-device="Desk"]').waitFor({ state: 'detached' })
    const rows = await laptop.json<Array<{ id: string, relation: string }>>('devices')
    assert.notEqual(rows.find(r => r.id === member.id)?.relation, 'member')
    // done with it. A removed device left running is cut off by every member at each connection,
    // and its DHT keeps dialling them for a while (many a second while it refreshes its routing
    // table); here every device is 127.0.0.1, so libp2p's per-host inbound limit (5 a second)
    // would refuse the other devices too
    await member.stop()
  })

  it('fits a narrow window: one pane at a time', async () => {
    const narrow = await newPage(browser, { width: 390, height: 760 })
    await narrow.goto(await uiLink(laptop))
    await narrow.locator('a.conversation', { hasText: FRIEND.slice(-3) }).waitFor()
    await screenshot(narrow, 'narrow-list')
    await narrow.locator('a.conversation', { hasText: FRIEND.slice(-3) }).click()
    await bubble(narrow, 'Dinner').waitFor()
    assert.equal(await narrow.locator('.list-pane').isVisible(), false)
    await screenshot(narrow, 'narrow-conversation')
    await narrow.getByRole('link', { name: 'Back to conversations' }).click()
    await narrow.locator('.list-pane').waitFor()
    await narrow.context().close()
  })

  it('lets no other site use the session: a page on another port of 127.0.0.1 can neither read nor send', async () => {
    const laptopPage = await laptopSignedIn()
    // same site as the page (cookies ignore ports), so only the Origin check stands in the way
    const evil = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>evil</title>') })
    await new Promise<void>(resolve => evil.listen(0, '127.0.0.1', resolve))
    try {
      const page = await laptopPage.context().newPage()
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`)
      const ui = new URL(laptopPage.url()).origin
      const read = await page.evaluate(`fetch(${JSON.stringify(ui + '/api/v1/sms')}, { credentials: 'include' }).then(r => r.status, e => 'blocked: ' + e.message)`)
      assert.match(String(read), /^blocked/)
      // a "simple" request goes out without a preflight: the daemon refuses it (foreign Origin; nor is it JSON)
      const body = JSON.stringify({ to: [FRIEND], body: 'sent by another site' })
      await page.evaluate(`fetch(${JSON.stringify(ui + '/api/v1/sms')}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} }).catch(() => {})`)
      await page.close()
      await new Promise(resolve => setTimeout(resolve, 500))
      assert.equal((await messagesOn(laptop)).filter(m => m.body === 'sent by another site').length, 0)
    } finally {
      evil.close()
    }
  })

  it('is usable by keyboard and passes axe-core\'s WCAG 2 AA checks on every view', async () => {
    const page = await laptopSignedIn()
    // contrast is judged on the settled page, not halfway through a bubble's fade-in
    await page.emulateMedia({ reducedMotion: 'reduce' })
    for (const [view, ready] of [['#/messages', 'a.conversation'], [`#/messages/${encodeURIComponent(FRIEND)}`, '.bubble-row'], ['#/messages/new', '#recipients'], ['#/devices', '.device'], ['#/links', 'table.links']] as const) {
      await page.goto(new URL(view, page.url()).toString())
      await page.locator(ready).first().waitFor()
      assert.deepEqual(await accessibilityProblems(page), [], view)
    }
    // from the section links to a conversation and its composer, with Tab and Enter only
    await page.goto(new URL('#/messages', page.url()).toString())
    await page.locator('nav a[href="#/messages"]').focus()
    let focused = ''
    for (let i = 0; i < 10 && !focused.startsWith('conversation'); i++) {
      await page.keyboard.press('Tab')
      focused = await page.evaluate('document.activeElement.className')
    }
    assert.match(focused, /^conversation/)
    await page.keyboard.press('Enter')
    await page.locator('.thread .bubble-row').first().waitFor()
    await page.getByLabel('Message text').focus()
    await page.keyboard.type('typed, not clicked')
    await page.keyboard.press('Enter')
    await bubble(page, 'typed, not clicked').waitFor()
  })

  it('shows statuses that changed while a conversation was still loading', async () => {
    const page = await laptopSignedIn()
    await page.goto(new URL('#/messages', page.url()).toString())
    const text = 'Running late, start without me'
    // the conversation's first page is read at once but reaches the page only once the message
    // is delivered: its statuses arrive as events in between
    let snapshot: string | undefined
    await page.route(url => url.pathname === '/api/v1/sms' && url.searchParams.get('with') === FRIEND, async (route) => {
      const response = await route.fetch()
      snapshot = ((await response.json()) as Array<{ body: string, status: string }>).find(m => m.body === text)?.status
      await messageOn(laptop, id, m => m.status === 'delivered', 20_000)
      await new Promise(resolve => setTimeout(resolve, 500))
      await route.fulfill({ response })
    }, { times: 1 })
    const id = await send(laptop, FRIEND, text)
    await page.goto(new URL(`#/messages/${encodeURIComponent(FRIEND)}`, page.url()).toString())
    await page.locator(`[data-id="${id}"][data-status="delivered"]`).waitFor({ timeout: 30_000 })
    assert.notEqual(snapshot, undefined, 'the page was read while the message was on its way')
    assert.notEqual(snapshot, 'delivered', 'the page was read before the message was delivered')
  })

  it('follows its daemon through a restart: reconnects by itself, still signed in, still live', async () => {
    const page = await laptopSignedIn()
    await page.goto(new URL(`#/messages/${encodeURIComponent(FRIEND)}`, page.url()).toString())
    await bubble(page, 'Dinner').waitFor()
    await laptop.stop()
    await page.locator('.rail-foot', { hasText: 'reconnecting' }).waitFor()
    await laptop.start()
    await page.locator('.rail-foot', { hasText: 'reconnecting' }).waitFor({ state: 'detached', timeout: 20_000 })
    await until('the laptop back with the phone', 20_000, async () =>
      (await laptop.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')).some(d => d.id === phone.id && d.online))
    await carrier.inject(FRIEND, PHONE, 'Back online?')
    await bubble(page, 'Back online?').waitFor({ timeout: 30_000 })
  })
})
