/**
 * `npm start`: three devices on this one machine, talking over loopback only (no hardware, no
 * traffic on any real interface), driven through the real `companion` command.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI, Device, runCli, until } from '../testbed/device.ts'
import { startHelper } from '../testbed/processes.ts'
import { startPairing } from '../testbed/pairing.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const root = mkdtempSync(join(tmpdir(), 'companion-demo-'))
const say = (text: string): void => { process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`) }

async function show (device: Device, ...args: string[]): Promise<void> {
  process.stdout.write(`$ companion ${args.join(' ')}   # on ${device.init.name ?? ''}\n`)
  const res = await device.cli(...args)
  process.stdout.write(res.stdout + res.stderr)
}

const devices: Device[] = []
const carrier = startHelper([process.execPath, CLI, 'carrier', '--listen', '127.0.0.1:0', '--latency', '150'])

async function seenBy (viewer: Device, ids: string[]): Promise<boolean> {
  const rows = await viewer.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')
  return ids.every(id => rows.some(r => r.id === id && r.online))
}

async function carrierCli (address: string, ...args: string[]): Promise<void> {
  process.stdout.write(`$ companion carrier ${args.join(' ')}\n`)
  const res = await runCli(['carrier', ...args, '--carrier', address])
  process.stdout.write(res.stdout + res.stderr)
}

try {
  say('Start a simulated mobile network (the phone attaches to it instead of a real SIM)')
  const network = (await carrier.line(/^ready /)).split(' ')[1] ?? ''
  process.stdout.write(`$ companion carrier --listen ${network}\n`)

  say('Start the phone\'s daemon, attached to the network as +15550100002')
  const phone = new Device({ dataDir: join(root, 'phone'), name: 'phone', args: [...LOOPBACK, '--kind', 'phone', '--sms', `sim://${network}/+15550100002`] })
  devices.push(phone)
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
  await until('all three connected', 20_000, async () =>
    await seenBy(laptop, [phone.id, tablet.id]) && await seenBy(tablet, [phone.id, laptop.id]))
  await show(laptop, 'devices')

  say('Pair the laptop with the phone: the laptop shows a code, you type it on the phone')
  process.stdout.write('$ companion pair phone   # on laptop\n')
  const attempt = startPairing(laptop, 'phone')
  const code = await attempt.code
  process.stdout.write(`code: ${code}\n`)
  await until('request on the phone', 5_000, async () => (await phone.api.call<unknown[]>('GET', '/v1/pair/requests')).length > 0)
  await show(phone, 'pair', 'requests')
  await show(phone, 'pair', 'accept', 'laptop', '--code', code)
  process.stdout.write((await attempt.result).stdout.split('\n').filter(l => l.startsWith('paired')).join('\n') + '\n')

  say('The tablet joins through the laptop; the phone trusts it too, without ever having met its pairing')
  const tabletAttempt = startPairing(tablet, 'laptop')
  await show(laptop, 'pair', 'accept', 'tablet', '--code', await tabletAttempt.code)
  await tabletAttempt.result
  await until('all members', 10_000, async () => {
    const rows = await phone.api.call<Array<{ relation: string }>>('GET', '/v1/devices')
    return rows.filter(r => r.relation === 'member').length === 2
  })
  await show(phone, 'devices')

  say('Every device of the account is one tunnel away: its links, and a channel to the phone')
  await until('a link to the phone', 10_000, async () => (await laptop.api.call<Array<{ active: boolean }>>('GET', '/v1/links')).some(l => l.active))
  await show(laptop, 'links')
  process.stdout.write('$ echo "hello, phone" | companion connect phone echo   # on laptop\n')
  const echoed = await runCli(['--data-dir', laptop.dataDir, 'connect', 'phone', 'echo'], { input: 'hello, phone\n' })
  process.stdout.write(echoed.stdout + echoed.stderr)

  say('Text from the laptop through the phone')
  await until('the laptop knows the phone can text', 10_000, async () =>
    (await laptop.api.call<Array<{ id: string, capabilities: string[] }>>('GET', '/v1/devices')).find(d => d.id === phone.id)?.capabilities.includes('sms.send') === true)
  await show(laptop, 'sms', 'send', '+15550109999', 'Running late, there in 10', '--wait', 'sent')
  await carrierCli(network, 'log')

  say('A reply from the outside world arrives on the phone, and on every device of the account')
  await carrierCli(network, 'send', '--from', '+15550109999', '--to', '+15550100002', 'No problem, see you soon!')
  await until('the reply on the laptop', 10_000, async () => (await laptop.api.call<unknown[]>('GET', '/v1/sms')).length >= 2)
  await show(laptop, 'sms', 'list')
  await until('the reply on the tablet', 10_000, async () => (await tablet.api.call<unknown[]>('GET', '/v1/sms')).length >= 2)
  await show(tablet, 'sms', 'conversations')
  await show(tablet, 'sms', 'read', '+15550109999')
  await until('read on the laptop', 10_000, async () => (await laptop.api.call<Array<{ read: boolean }>>('GET', '/v1/sms')).every(m => m.read))
  await show(laptop, 'sms', 'conversations')

  say('Names: a vCard imported on the tablet names the conversation on every device')
  const card = join(root, 'friends.vcf')
  writeFileSync(card, ['BEGIN:VCARD', 'VERSION:4.0', 'FN:Sam Example', 'TEL;TYPE=cell:+1 555 010 9999', 'END:VCARD'].join('\r\n'))
  await show(tablet, 'contacts', 'import', card)
  await until('the name on the laptop', 10_000, async () => (await laptop.api.call<Array<{ name: string | null }>>('GET', '/v1/sms/conversations')).some(c => c.name === 'Sam Example'))
  await show(laptop, 'sms', 'conversations')

  say('Restart the laptop: same device id, and it reconnects from what it remembers')
  await laptop.stop()
  laptop.init.args = [...LOOPBACK]
  await laptop.start()
  await until('laptop back', 20_000, async () => await seenBy(tablet, [laptop.id]))
  await show(tablet, 'devices')
  await show(laptop, 'sms', 'list', '--limit', '1')
  say('The same conversations in a browser: a one-time link to each device\'s page')
  await show(laptop, 'ui', '--no-open')
  if (process.argv.includes('--stay')) {
    await show(tablet, 'ui', '--no-open')
    say('Open the links above (each works once, for 5 minutes); Ctrl-C ends the demo')
    await new Promise<void>(resolve => { process.once('SIGINT', () => { resolve() }) })
  } else {
    process.stdout.write('(npm start -- --stay keeps the devices running so you can open it)\n')
  }
  say('Done: see README.md for running daemons on real devices')
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  await Promise.allSettled(devices.map(async d => await d.stop()))
  carrier.kill()
  rmSync(root, { recursive: true, force: true })
}
