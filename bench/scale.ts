/**
 * Twenty devices on one LAN (namespaced, two links each), unpaired, started at once:
 *  - scale-20-seen: ms from the last daemon's ready line until every device lists all 19
 *    others online (380 ordered pairs);
 *  - scale-20-idle-cpu: CPU % of one core per daemon over IDLE_S seconds after that;
 *  - scale-20-rss: RSS of a daemon that knows 19 neighbours, against one alone on the LAN.
 */
import { readFileSync } from 'node:fs'
import { Testbed, type Device } from '../testbed/index.ts'
import { row, type BenchRow } from './results.ts'

export const SCALE_DEVICES = 20
const IDLE_S = 30
const CLOCK_TICKS = 100

function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS
}

function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** CPU % of one core each process used over `seconds`. */
async function cpuPercent (pids: number[], seconds: number): Promise<number[]> {
  const before = pids.map(cpuMs)
  await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  return pids.map((pid, i) => (cpuMs(pid) - (before[i] ?? 0)) / (seconds * 10))
}

/** How many of the ordered pairs (viewer sees other online) hold now. */
export async function pairsOnline (bed: Testbed): Promise<{ online: number, missing: string[] }> {
  let online = 0
  const missing: string[] = []
  const index = new Map(bed.devices.map((d, i) => [d.id, i + 1]))
  await Promise.all(bed.devices.map(async (viewer, i) => {
    const seen = await bed.onlineSeenBy(viewer).catch(() => new Set<string>())
    for (const other of bed.devices) {
      if (other === viewer) continue
      if (seen.has(other.id)) online++
      else missing.push(`${i + 1}→${index.get(other.id) ?? '?'}`)
    }
  }))
  return { online, missing }
}

/** Start every device at once; resolves with when the last one was ready (performance.now()). */
export async function startTogether (devices: Device[]): Promise<number> {
  let last = 0
  await Promise.all(devices.map(async d => {
    await d.start()
    last = Math.max(last, performance.now())
  }))
  return last
}

/** Poll until every pair is online or `timeoutMs` passed; ms after `from`, or undefined. */
export async function allOnlineAfter (bed: Testbed, from: number, timeoutMs: number): Promise<number | undefined> {
  const total = bed.devices.length * (bed.devices.length - 1)
  while (performance.now() - from < timeoutMs) {
    if ((await pairsOnline(bed)).online === total) return performance.now() - from
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return undefined
}

export async function scaleBenchmarks (): Promise<BenchRow[]> {
  // baselines from the same run: one daemon alone on the LAN (memory and CPU with no
  // neighbours), and two started together (how long a pair takes to see each other)
  const alone = new Testbed({ devices: 1, links: 2 })
  let aloneRss: number
  let aloneCpu: number
  try {
    const [d] = alone.devices as [Device]
    await d.start()
    await new Promise(resolve => setTimeout(resolve, 10_000))
    aloneCpu = (await cpuPercent([d.pid ?? 0], IDLE_S))[0] ?? 0
    aloneRss = rssMb(d.pid ?? 0)
  } finally {
    await alone.close()
  }
  const two = new Testbed({ devices: 2, links: 2 })
  let pairSeen: number
  try {
    pairSeen = await allOnlineAfter(two, await startTogether(two.devices), 60_000) ?? 60_000
  } finally {
    await two.close()
  }

  const rows: BenchRow[] = []
  const bed = new Testbed({ devices: SCALE_DEVICES, links: 2, readyTimeoutMs: 120_000 })
  try {
    const lastReady = await startTogether(bed.devices)
    const seen = await allOnlineAfter(bed, lastReady, 60_000)
    const { missing } = await pairsOnline(bed)
    process.stderr.write(`scale: all ${SCALE_DEVICES * (SCALE_DEVICES - 1)} pairs online ${seen == null ? 'NOT within 60 s' : `after ${seen.toFixed(0)} ms`} (two devices: ${pairSeen.toFixed(0)} ms); missing now: ${missing.length} ${missing.slice(0, 20).join(' ')}\n`)
    rows.push(row('scale-20-seen', 'ms', seen ?? 60_000, pairSeen, '<= 5000 ms', seen != null && seen <= 5_000))
    await new Promise(resolve => setTimeout(resolve, 10_000))
    const pids = bed.devices.map(d => d.pid ?? 0)
    const cpu = await cpuPercent(pids, IDLE_S)
    const rss = pids.map(rssMb)
    const stillMissing = (await pairsOnline(bed)).missing
    process.stderr.write(`scale: idle cpu % ${cpu.map(c => c.toFixed(2)).join(' ')} (alone ${aloneCpu.toFixed(2)}); rss MB ${rss.map(r => r.toFixed(0)).join(' ')} (alone ${aloneRss.toFixed(0)}); pairs missing after idle: ${stillMissing.length}\n`)
    rows.push(row('scale-20-idle-cpu', '%', mean(cpu), aloneCpu, '<= 1 %', mean(cpu) <= 1))
    rows.push(row('scale-20-rss', 'MB', mean(rss), aloneRss, '<= 1.1x alone', mean(rss) <= 1.1 * aloneRss))
  } finally {
    await bed.close()
  }
  return rows
}
