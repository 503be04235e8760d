import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Device, eventually, keepLogsOnFailure, tempDir, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { openChannel } from '../../testbed/channels.ts'
import type { ShareView } from '../../share/constants.ts'
import { launchBrowser, newPage, screenshot } from '../../testbed/browser.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const frame = (value: unknown): Buffer => { const body = Buffer.from(JSON.stringify(value)); const head = Buffer.alloc(4); head.writeUInt32BE(body.length); return Buffer.concat([head, body]) }

describe('sharing files and snippets between your devices', function () {
  this.timeout(180_000)
  const tmp = tempDir()
  const downloads = join(tmp.path, 'tablet-downloads')
  const small = join(tmp.path, 'tiny-disk')
  let laptop: Device, tablet: Device, stranger: Device, phone: Device
  const sharesOn = async (d: Device): Promise<ShareView[]> => await d.json<ShareView[]>('shares')

  before(async () => {
    laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'laptop', args: [...LOOPBACK, '--downloads', join(tmp.path, 'laptop-downloads')] })
    await laptop.start()
    const address = (await laptop.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    tablet = new Device({ dataDir: join(tmp.path, 'tablet'), name: 'tablet', args: [...LOOPBACK, '--bootstrap', address, '--downloads', downloads, '--share-max', '30M'] })
    // its downloads on a disk of 8 MiB (a tmpfs): a file that does not fit fails cleanly
    mkdirSync(small, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small])
    phone = new Device({ dataDir: join(tmp.path, 'phone'), name: 'phone', args: [...LOOPBACK, '--no-ui', '--bootstrap', address, '--downloads', small] })
    stranger = new Device({ dataDir: join(tmp.path, 'stranger'), name: 'stranger', args: [...LOOPBACK, '--no-ui', '--bootstrap', address] })
    await Promise.all([tablet.start(), phone.start(), stranger.start()])
    await until('the laptop sees them', 15_000, async () => (await laptop.json<Array<{ id: string, online: boolean }>>('devices')).filter(d => d.online).length >= 3)
    await pair(tablet, laptop)
    await pair(phone, laptop)
    await until('all online', 15_000, async () => (await laptop.json<Array<{ id: string, relation: string, online: boolean }>>('devices')).filter(d => d.relation === 'member' && d.online).length === 2)
  })

  afterEach(async function () {
    await keepLogsOnFailure(this.currentTest, [laptop, tablet, phone, stranger])
  })

  after(async () => {
    await Promise.allSettled([laptop, tablet, phone, stranger].map(async d => await d?.stop()))
    try { execFileSync('umount', [small]) } catch {}
    tmp.cleanup()
  })

  it('sends files whole to another device, verified, and says so on both', async () => {
    const a = randomBytes(20 * 1024 * 1024 + 5)
    const b = Buffer.from('a short note\n')
    writeFileSync(join(tmp.path, 'holiday.mov'), a)
    writeFileSync(join(tmp.path, 'note.txt'), b)
    const r = await laptop.cli('share', join(tmp.path, 'holiday.mov'), join(tmp.path, 'note.txt'), '--to', 'tablet', '--json')
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n').map(l => JSON.parse(l) as { event: string, transfers?: ShareView[] })
    assert.equal(lines[0]?.event, 'queued')
    assert.ok(lines.some(l => l.event === 'progress'))
    assert.deepEqual(lines.at(-1)?.transfers?.map(t => [t.name, t.state]), [['holiday.mov', 'done'], ['note.txt', 'done']])
    assert.equal(sha(readFileSync(join(downloads, 'holiday.mov'))), sha(a))
    assert.deepEqual(readFileSync(join(downloads, 'note.txt')), b)
    const received = await sharesOn(tablet)
    assert.deepEqual(received.filter(t => t.direction === 'in').map(t => [t.name, t.state, t.bytes]).sort(), [['holiday.mov', 'done', a.length], ['note.txt', 'done', b.length]])
    // again: a second copy beside the first, never over it
    assert.equal((await laptop.cli('share', join(tmp.path, 'note.txt'), '--to', 'tablet')).code, 0)
    assert.ok(existsSync(join(downloads, 'note (1).txt')))
    assert.deepEqual(readdirSync(downloads).filter(n => n.startsWith('.')), [], 'no partial file left')
  })

  it('sends a snippet, shown in the other device\'s shares', async () => {
    const r = await laptop.cli('share', '--text', 'https://example.org/the-link', '--to', 'all')
    assert.equal(r.code, 0, r.stderr)
    const got = await eventually('the snippet on the tablet', 10_000, async () => (await sharesOn(tablet)).find(t => t.kind === 'text'))
    assert.equal(got.text, 'https://example.org/the-link')
  })

  it('saves what a device names badly under a plain name inside the downloads, never elsewhere', async () => {
    const names: Array<[string, string]> = [['../../.bashrc', 'bashrc'], ['/etc/cron.d/evil', 'evil'], ['a\u0000b\u0007.txt', 'ab.txt'], ['..', 'shared file']]
    for (const [name, expected] of names) {
      const bytes = Buffer.from(`content of ${JSON.stringify(name)}`)
      const socket = await openChannel(laptop, tablet.id, 'share', 'bulk')
      const answers: Buffer[] = []
      socket.on('data', (d: Buffer) => answers.push(d))
      socket.write(frame({ v: 1, id: `evil-${expected.replace(/\W/g, '')}-0000`, kind: 'file', name, size: bytes.length, mtime: 1, chunk: 1024 * 1024 }))
      await until('the offset', 5_000, () => Buffer.concat(answers).includes('"have"'))
      socket.write(bytes)
      socket.end(frame({ sha256: sha(bytes) }))
      await until('stored', 5_000, () => Buffer.concat(answers).includes('"done"'))
      socket.destroy()
      assert.deepEqual(readFileSync(join(downloads, expected)), bytes, name)
    }
    assert.equal(existsSync(join(tmp.path, '.bashrc')), false)
    assert.equal(existsSync(join(downloads, '..', '.bashrc')), false)
  })

  it('is refused by a device that took the share grant, by a device of another account, over the size limit, and when the disk is full', async () => {
    writeFileSync(join(tmp.path, 'photo.jpg'), randomBytes(100_000))
    assert.equal((await tablet.cli('revoke', laptop.id, 'share')).code, 0)
    const refused = await laptop.cli('share', join(tmp.path, 'photo.jpg'), '--to', 'tablet')
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr + refused.stdout, /does not take shares from yours \(share\)/)
    assert.equal(existsSync(join(downloads, 'photo.jpg')), false)
    assert.equal((await tablet.cli('grant', laptop.id, 'share')).code, 0)

    const outsider = await laptop.cli('share', join(tmp.path, 'photo.jpg'), '--to', 'stranger')
    assert.notEqual(outsider.code, 0)
    assert.match(outsider.stderr, /not a device of your account/)

    writeFileSync(join(tmp.path, 'big.iso'), randomBytes(31 * 1024 * 1024))
    const big = await laptop.cli('share', join(tmp.path, 'big.iso'), '--to', 'tablet')
    assert.notEqual(big.code, 0)
    assert.match(big.stderr + big.stdout, /takes files up to 30 MiB/)

    // the phone's downloads are a disk of 8 MiB
    writeFileSync(join(tmp.path, 'film.mp4'), randomBytes(12 * 1024 * 1024))
    const full = await laptop.cli('share', join(tmp.path, 'film.mp4'), '--to', 'phone')
    assert.notEqual(full.code, 0)
    assert.match(full.stderr + full.stdout, /not enough free space|the disk is full/)
    assert.deepEqual(readdirSync(small).filter(n => !n.startsWith('.')), [], 'no file appears')
  })

  it('keeps what arrived when the disk fills in the middle, and goes on from it once there is room', async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 300_000)
    const header = { v: 1, id: 'fills-the-disk-01', kind: 'file', name: 'scan.pdf', size: bytes.length, mtime: 1_700_000_000_000, chunk: 1024 * 1024 }
    const push = async (before: () => void): Promise<string> => {
      const socket = await openChannel(laptop, phone.id, 'share', 'bulk')
      const answers: Buffer[] = []
      socket.on('data', (d: Buffer) => answers.push(d))
      socket.on('error', () => {})
      socket.write(frame(header))
      await until('the offset', 5_000, () => Buffer.concat(answers).includes('"have"'))
      const have = Number(/"have":(\d+)/.exec(Buffer.concat(answers).toString())?.[1])
      before()
      socket.write(bytes.subarray(have))
      socket.end(frame({ sha256: sha(bytes) }))
      await until('an outcome', 10_000, () => /"done"|"error"/.test(Buffer.concat(answers).toString()))
      socket.destroy()
      return Buffer.concat(answers).toString()
    }
    // another program fills the disk while the file arrives
    const filler = join(small, 'other-program.bin')
    const first = await push(() => { writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024)) })
    assert.match(first, /the disk is full on this device: [\d.]+ (MiB|KiB) of scan\.pdf kept/)
    assert.equal(readFileSync(filler).length, 4 * 1024 * 1024, 'nothing else touched')
    const kept = readdirSync(small).filter(n => n.endsWith('.part'))
    assert.equal(kept.length, 1)
    const t = await eventually('failed on the phone', 5_000, async () => (await sharesOn(phone)).find(x => x.id === 'fills-the-disk-01' && x.state === 'failed'))
    assert.match(t.reason ?? '', /disk is full/)
    execFileSync('rm', [filler])
    const second = await push(() => {})
    assert.match(second, /"have":[1-9]\d*/, 'it goes on from the pieces kept')
    assert.match(second, /"done":true/)
    assert.deepEqual(readFileSync(join(small, 'scan.pdf')), bytes)
  })

  it('sends files picked on, and dropped on, a device card of the page, and lists what arrived with a download link and snippets to copy', async () => {
    const path = join(tmp.path, 'slides.pdf')
    const bytes = randomBytes(2 * 1024 * 1024 + 11)
    writeFileSync(path, bytes)
    const browser = await launchBrowser()
    try {
      const page = await newPage(browser)
      await page.goto((await laptop.json<{ url: string }>('ui', '--no-open')).url)
      await page.locator('nav a[href="#/devices"]').click()
      const card = page.locator('li.device[data-device="tablet"]')
      await card.locator('.share-drop input[type=file]').setInputFiles(path)
      await card.locator('.transfer[data-state="done"]', { hasText: 'slides.pdf' }).waitFor({ timeout: 20_000 })
      assert.deepEqual(readFileSync(join(downloads, 'slides.pdf')), bytes)
      // dragged from a file manager: the drop zone highlights under it and sends what is dropped
      const dropped = await page.evaluateHandle(`(() => {
        const transfer = new DataTransfer()
        transfer.items.add(new File(['agenda: 1. the budget'], 'agenda.txt', { type: 'text/plain' }))
        return transfer
      })()`)
      const zone = card.locator('.share-drop')
      await zone.dispatchEvent('dragover', { dataTransfer: dropped })
      await card.locator('.share-drop.over').waitFor()
      await zone.dispatchEvent('drop', { dataTransfer: dropped })
      await card.locator('.transfer[data-state="done"]', { hasText: 'agenda.txt' }).waitFor({ timeout: 20_000 })
      assert.equal(readFileSync(join(downloads, 'agenda.txt'), 'utf8'), 'agenda: 1. the budget')
      assert.equal(await card.locator('.share-drop.over').count(), 0, 'the highlight goes with the drop')
      await screenshot(page, 'share-sent')
      assert.equal((await laptop.cli('share', '--text', 'the meeting link: https://example.org/m/42', '--to', 'tablet')).code, 0)
      const other = await newPage(browser)
      await other.goto((await tablet.json<{ url: string }>('ui', '--no-open')).url)
      await other.locator('nav a[href="#/devices"]').click()
      const link = other.locator('ul.received a', { hasText: 'slides.pdf' })
      await link.waitFor()
      const href = await link.getAttribute('href') ?? ''
      assert.equal(await other.evaluate(`fetch(${JSON.stringify(href)}).then(r => r.arrayBuffer()).then(b => b.byteLength)`), bytes.length)
      await other.locator('ul.received .snippet', { hasText: 'https://example.org/m/42' }).waitFor()
      await other.locator('ul.received button', { hasText: 'Copy' }).first().waitFor()
      await screenshot(other, 'share-received')
    } finally {
      await browser.close()
    }
  })

  it('fails a file changed after it was shared, and cancels on demand', async () => {
    const path = join(tmp.path, 'draft.bin')
    writeFileSync(path, randomBytes(3 * 1024 * 1024))
    assert.equal(await tablet.stop(), 0)
    // queued while the tablet is off (paused), changed, then the tablet comes back
    const queued = laptop.cli('share', path, '--to', 'tablet', '--json')
    const t = await eventually('paused', 10_000, async () => (await sharesOn(laptop)).find(x => x.name === 'draft.bin' && x.state === 'paused'))
    writeFileSync(path, randomBytes(3 * 1024 * 1024))
    await tablet.start()
    const r = await queued
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /changed since it was shared/)
    assert.equal((await sharesOn(laptop)).find(x => x.id === t.id)?.state, 'failed')

    assert.equal(await tablet.stop(), 0)
    const waiting = laptop.cli('share', path, '--to', 'tablet')
    const c = await eventually('paused', 10_000, async () => (await sharesOn(laptop)).find(x => x.name === 'draft.bin' && x.state === 'paused' && x.id !== t.id))
    const cancelled = await laptop.cli('share', 'cancel', c.id)
    assert.equal(cancelled.code, 0, cancelled.stderr)
    const w = await waiting
    assert.notEqual(w.code, 0)
    assert.match(w.stdout + w.stderr, /cancelled/)
    await tablet.start()
  })
})
