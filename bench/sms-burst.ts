/**
 * sms-burst: 1000 messages sent from a laptop through a phone to the simulated carrier, all on
 * loopback (three daemons and a carrier, real processes). Measured: messages per second until
 * every message shows `sent` on every device (laptop, phone, tablet), and p50/p99 from
 * `sms send` returning to `sent` on the last device. Baseline: the same number of durable
 * SQLite inserts (WAL, synchronous = FULL, one transaction each), the floor of any design
 * that makes each message durable before answering.
 */
import { readFileSync } from 'node:fs'
import { DatabaseSync } from 'node:sqlite'
import { join } from 'node:path'
import { Device, CLI, until } from '../testbed/device.ts'
import { tempDir } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { startHelper } from '../testbed/processes.ts'
import { percentile } from '../testbed/channels.ts'
import { row, type BenchRow } from './results.ts'

const MESSAGES = 1000
const CONCURRENCY = 64
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/** Durable SQLite inserts per second: WAL, synchronous = FULL, one transaction each. */
export function durableInserts (dir: string, n: number): number {
  const db = new DatabaseSync(join(dir, `baseline-${n}.db`))
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE m (id TEXT PRIMARY KEY, body TEXT)')
  const insert = db.prepare('INSERT INTO m (id, body) VALUES (?, ?)')
  const start = performance.now()
  for (let i = 0; i < n; i++) insert.run(`id-${i}`, `burst ${i}`)
  const seconds = (performance.now() - start) / 1000
  db.close()
  return n / seconds
}

export async function smsBurst (): Promise<BenchRow[]> {
  const tmp = tempDir()
  const carrier = startHelper([process.execPath, CLI, 'carrier', '--listen', '127.0.0.1:0'])
  const devices: Device[] = []
  const abort = new AbortController()
  try {
    const address = (await carrier.line(/^ready /)).split(' ')[1] ?? ''
    const phone = new Device({ dataDir: join(tmp.path, 'phone'), name: 'phone', args: [...LOOPBACK, '--sms', `sim://${address}/+15550100002`, '--sms-rate', '100000/min'] })
    devices.push(phone)
    await phone.start()
    const bootstrap = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    const laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'laptop', args: [...LOOPBACK, '--bootstrap', bootstrap] })
    const tablet = new Device({ dataDir: join(tmp.path, 'tablet'), name: 'tablet', args: [...LOOPBACK, '--bootstrap', bootstrap] })
    devices.push(laptop, tablet)
    await laptop.start()
    await tablet.start()
    await pair(laptop, phone)
    await pair(tablet, phone)
    await until('the laptop knows the phone as a proxy', 15_000, async () =>
      (await laptop.api.call<Array<{ id: string, capabilities: string[] }>>('GET', '/v1/devices')).find(d => d.id === phone.id)?.capabilities.includes('sms.send') === true)

    // when each device first shows each message as sent
    const sentAt = devices.map(() => new Map<string, number>())
    const watching = devices.map(async (d, i) => {
      for await (const event of d.api.events(['sms'], abort.signal)) {
        const { message } = event.data as { message: { id: string, status: string } }
        if (message.status === 'sent' && !sentAt[i]?.has(message.id)) sentAt[i]?.set(message.id, performance.now())
      }
    })
    await new Promise(resolve => setTimeout(resolve, 500))

    const cpu = (pid: number | undefined): number => {
      const f = readFileSync(`/proc/${pid ?? 0}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      return (Number(f[11]) + Number(f[12])) * 10
    }
    const pids = [...devices.map(d => d.pid), carrier.child.pid, process.pid]
    const cpuBefore = pids.map(cpu)
    const sendAt = new Map<string, number>()
    const start = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < MESSAGES) {
        const i = next++
        const { id } = await laptop.api.call<{ id: string }>('POST', '/v1/sms', { to: ['+15550109999'], body: `burst ${i}` })
        sendAt.set(id, performance.now())
      }
    }))
    const sendsDone = performance.now()
    await until('every message sent on every device', 120_000, async () => sentAt.every(m => m.size >= MESSAGES), 100)
    process.stderr.write(`cpu ms (phone, laptop, tablet, carrier, bench): ${pids.map((p, i) => cpu(p) - (cpuBefore[i] ?? 0)).join(', ')}\n`)
    const end = Math.max(...sentAt.flatMap(m => [...m.values()]))
    process.stderr.write(`sends returned after ${(sendsDone - start).toFixed(0)} ms; sent on ${devices.map((d, i) => `${d.init.name ?? ''} ${(Math.max(...(sentAt[i]?.values() ?? [])) - start).toFixed(0)} ms`).join(', ')}\n`)
    const rate = MESSAGES / ((end - start) / 1000)
    const latencies = [...sendAt.entries()].map(([id, t]) => Math.max(...sentAt.map(m => m.get(id) ?? Infinity)) - t)
    const baseline = durableInserts(tmp.path, MESSAGES)
    process.stderr.write(`sms-burst: ${rate.toFixed(0)} msg/s, p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms; baseline ${baseline.toFixed(0)} durable inserts/s\n`)
    abort.abort()
    await Promise.allSettled(watching)
    return [
      row('sms-burst-rate', 'msg/s', rate, baseline, '>= 500 msg/s', rate >= 500),
      row('sms-burst-p50', 'ms', percentile(latencies, 0.5), 1000 / baseline, 'reported', true),
      row('sms-burst-p99', 'ms', percentile(latencies, 0.99), 1000 / baseline, 'reported', true)
    ]
  } finally {
    abort.abort()
    await Promise.allSettled(devices.map(async d => await d.stop()))
    carrier.kill()
    tmp.cleanup()
  }
}
