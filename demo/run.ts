/**
 * `npm start`: three devices on this one machine, talking over loopback only (no hardware, no
 * traffic on any real interface), driven through the real `companion` command.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Device, eventually, runCli } from '../test/harness/device.ts'
import { startPairing } from '../test/harness/pairing.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const root = mkdtempSync(join(tmpdir(), 'companion-demo-'))
const say = (text: string): void => { process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`) }

async function show (device: Device, ...args: string[]): Promise<void> {
  process.stdout.write(`$ companion ${args.join(' ')}   # on ${device.init.name ?? ''}\n`)
  const res = await device.cli(...args)
  process.stdout.write(res.stdout + res.stderr)
}

const phone = new Device({ dataDir: join(root, 'phone'), name: 'phone', args: [...LOOPBACK, '--kind', 'phone'] })
const devices = [phone]

async function seenBy (viewer: Device, ids: string[]): Promise<boolean> {
  const rows = await viewer.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')
  return ids.every(id => rows.some(r => r.id === id && r.online))
}

try {
  say('Start the phone\'s daemon')
  await phone.start()
  const phoneAddr = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
  await show(phone, 'status')

  say('Start a laptop and a tablet; on a real LAN mDNS finds the phone, here --bootstrap does')
  const laptop = new Device({ dataDir: join(root, 'laptop'), name: 'laptop', args: [...LOOPBACK, '--kind', 'laptop', '--bootstrap', phoneAddr] })
  const tablet = new Device({ dataDir: join(root, 'tablet'), name: 'tablet', args: [...LOOPBACK, '--kind', 'tablet', '--bootstrap', phoneAddr] })
  devices.push(laptop, tablet)
  await laptop.start()
  await tablet.start()
  // laptop and tablet were only told about the phone: they meet each other through the DHT
  await eventually('all three connected', 20_000, async () =>
    await seenBy(laptop, [phone.id, tablet.id]) && await seenBy(tablet, [phone.id, laptop.id]) ? true : undefined)
  await show(laptop, 'devices')

  say('Pair the laptop with the phone: the laptop shows a code, you type it on the phone')
  process.stdout.write('$ companion pair phone   # on laptop\n')
  const attempt = startPairing(laptop, 'phone')
  const code = await attempt.code
  process.stdout.write(`code: ${code}\n`)
  await eventually('request on the phone', 5_000, async () => (await phone.api.call<unknown[]>('GET', '/v1/pair/requests')).length > 0 ? true : undefined)
  await show(phone, 'pair', 'requests')
  await show(phone, 'pair', 'accept', 'laptop', '--code', code)
  process.stdout.write((await attempt.result).stdout.split('\n').filter(l => l.startsWith('paired')).join('\n') + '\n')

  say('The tablet joins through the laptop; the phone trusts it too, without ever having met its pairing')
  const tabletAttempt = startPairing(tablet, 'laptop')
  await show(laptop, 'pair', 'accept', 'tablet', '--code', await tabletAttempt.code)
  await tabletAttempt.result
  await eventually('all members', 10_000, async () => {
    const rows = await phone.api.call<Array<{ relation: string }>>('GET', '/v1/devices')
    return rows.filter(r => r.relation === 'member').length === 2 ? true : undefined
  })
  await show(phone, 'devices')

  say('Every device of the account is one tunnel away: its links, and a channel to the phone')
  await eventually('a link to the phone', 10_000, async () => (await laptop.api.call<Array<{ active: boolean }>>('GET', '/v1/links')).some(l => l.active) ? true : undefined)
  await show(laptop, 'links')
  process.stdout.write('$ echo "hello, phone" | companion connect phone echo   # on laptop\n')
  const echoed = await runCli(['--data-dir', laptop.dataDir, 'connect', 'phone', 'echo'], { input: 'hello, phone\n' })
  process.stdout.write(echoed.stdout + echoed.stderr)

  say('Restart the laptop: same device id, and it reconnects from what it remembers')
  await laptop.stop()
  laptop.init.args = [...LOOPBACK]
  await laptop.start()
  await eventually('laptop back', 20_000, async () => await seenBy(tablet, [laptop.id]) ? true : undefined)
  await show(tablet, 'devices')
  say('Done: SMS through the phone arrives in the next version; see README.md')
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await Promise.allSettled(devices.map(async d => await d.stop()))
  rmSync(root, { recursive: true, force: true })
}
