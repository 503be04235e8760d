/**
 * Twenty devices on one LAN (namespaced, two links each), unpaired, started at once:
 *  - scale-20-seen: ms from the last daemon's ready line until every device lists all 19
 *    others online (380 ordered pairs);
 *  - scale-20-idle-cpu: CPU % of one core per daemon over IDLE_S seconds after that (a whole
 *    minute: the once-a-minute connection pings fall inside it whatever their phase);
 *  - scale-20-rss: RSS of a daemon that knows 19 neighbours, against one alone on the LAN.
 */
import { readFileSync } from 'node:fs'
import { Testbed, type Device } from '../testbed/index.ts'
import { allOnlineAfter, pairsOnline, startTogether } from '../testbed/scale.ts'
import { row, type BenchRow } from './results.ts'

export const SCALE_DEVICES = 20
const IDLE_S = 60
/** Seconds after every pair is online before idle is measured. */
const SETTLE_S = 60
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

export async function scaleBenchmarks (): Promise<BenchRow[]> {
  // baseline from the same run: two started together (how long a pair takes to see each other)
  const two = new Testbed({ devices: 2, links: 2 })
  let pairSeen: number
  try {
    pairSeen = await allOnlineAfter(two, await startTogether(two.devices), 60_000) ?? 60_000
  } finally {
    await two.close()
  }

  const rows: BenchRow[] = []
  // the other baseline: one daemon alone on a LAN of its own, started with the twenty and
  // measured in the same window, so both are the same age (a daemon's RSS moves with it)
  const alone = new Testbed({ devices: 1, links: 2 })
  const bed = new Testbed({ devices: SCALE_DEVICES, links: 2, readyTimeoutMs: 120_000 })
  try {
    const [single] = alone.devices as [Device]
    const [lastReady] = await Promise.all([startTogether(bed.devices), single.start()])
    const seen = await allOnlineAfter(bed, lastReady, 60_000)
    const { missing } = await pairsOnline(bed)
    process.stderr.write(`scale: all ${SCALE_DEVICES * (SCALE_DEVICES - 1)} pairs online ${seen == null ? 'NOT within 60 s' : `after ${seen.toFixed(0)} ms`} (two devices: ${pairSeen.toFixed(0)} ms); missing now: ${missing.length} ${missing.slice(0, 20).join(' ')}\n`)
    rows.push(row('scale-20-seen', 'ms', seen ?? 60_000, pairSeen, '<= 5000 ms', seen != null && seen <= 5_000))
    // idle means after the start-up's last retries (a profile put that no one took at first is
    // tried again after 30 and 60 s, lookups of our own id are 30 s apart)
    await new Promise(resolve => setTimeout(resolve, SETTLE_S * 1000))
    const pids = bed.devices.map(d => d.pid ?? 0)
    const [aloneCpu = 0, ...cpu] = await cpuPercent([single.pid ?? 0, ...pids], IDLE_S)
    const aloneRss = rssMb(single.pid ?? 0)
    const rss = pids.map(rssMb)
    const stillMissing = (await pairsOnline(bed)).missing
    process.stderr.write(`scale: idle cpu % ${cpu.map(c => c.toFixed(2)).join(' ')} (alone ${aloneCpu.toFixed(2)}); rss MB ${rss.map(r => r.toFixed(0)).join(' ')} (alone ${aloneRss.toFixed(0)}); pairs missing after idle: ${stillMissing.length}\n`)
    rows.push(row('scale-20-idle-cpu', '%', mean(cpu), aloneCpu, '<= 1 %', mean(cpu) <= 1))
    rows.push(row('scale-20-rss', 'MB', mean(rss), aloneRss, '<= 1.1x alone', mean(rss) <= 1.1 * aloneRss))
  } finally {
    await Promise.all([bed.close(), alone.close()])
  }
  return rows
}
