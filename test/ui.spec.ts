import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { Device, eventually, tempDir } from './harness/index.ts'
import { pair, startPairing } from './harness/pairing.ts'
import { SimCarrier, messagesOn } from './harness/sms.ts'
import { launchBrowser, newPage, recordStatuses, screenshot, statusesSeen } from './harness/browser.ts'
import { planMessage } from '../daemon/sms/pdu/plan.ts'

const PHONE = '+15550100002'
const FRIEND = '+15550100077'
const STRANGER = '+15550100099'
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
  let laptopPage: Page, tabletPage: Page

  before(async () => {
    // slow enough that a bubble is seen waiting before it is sent, and sent before delivered
    await carrier.start('--latency', '700')
    const sim = (number: string): string => `sim://127.0.0.1:${carrier.port}/${number}`
    phone = new Device({ dataDir: join(tmp.path, 'phone'), name: 'Pixel', args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(PHONE)] })
    await phone.start()
    const address = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'ThinkPad', args: [...LOOPBACK, '--kind', 'laptop', '--bootstrap', address] })
    tablet = new Device({ dataDir: join(tmp.path, 'tablet'), name: 'Tab', args: [...LOOPBACK, '--kind', 'tablet', '--bootstrap', address] })
    // someone else's phone, so that texts to FRIEND are delivered (with a delivery report)
    friend = new Device({ dataDir: join(tmp.path, 'friend'), name: 'friend', args: [...LOOPBACK, '--kind', 'phone', '--sms', sim(FRIEND), '--no-ui'] })
    await Promise.all([laptop.start(), tablet.start(), friend.start()])
    await pair(laptop, phone)
    await pair(tablet, phone)
    browser = await launchBrowser()
  })

  after(async () => {
    await browser?.close().catch(() => {})
    await Promise.allSettled([phone, laptop, tablet, friend].map(async d => await d?.stop()))
    carrier.stop()
    tmp.cleanup()
  })

  it('signs in with the one-time link and shows the conversations', async () => {
    laptopPage = await newPage(browser)
    await laptopPage.goto(await uiLink(laptop))
    assert.equal(new URL(laptopPage.url()).pathname, '/')
    await laptopPage.getByRole('heading', { name: 'Messages' }).waitFor()
    await laptopPage.getByText('No messages yet').waitFor()
    await screenshot(laptopPage, 'empty')
  })
})
