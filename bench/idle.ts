/**
 * Idle benchmarks on a namespaced LAN of three paired devices with two links each:
 *  - idle-cpu: CPU % of one core per daemon over IDLE_S seconds of nothing happening, vs bare
 *    libp2p nodes (bench/bare-node.ts) in the same namespaces, connected to each other;
 *  - idle-cpu-settling (reported): the SETTLE_S seconds before that, right after the links came
 *    up: the end of pairing (catch-up of the account's logs) and V8's collections after it;
 *  - idle-dead-link: the active link of an idle tunnel is cut; ms until the tunnel leaves it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Testbed, eventually, type Device, until } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { bundle } from '../tools/build.ts'
import { row, type BenchRow } from './results.ts'

const IDLE_S = 60
/**
 * Idle starts this long after every link is up. Measured in 10 s windows from that moment
 * (three devices, this LAN): 2.7, 1.5, 0.9, then 0.2-0.3 % with a 1 % window each minute (the
 * mDNS query and connection pings): the first 30 s are the end of pairing, not idleness.
 */
const SETTLE_S = 30
const BARE = fileURLToPath(new URL('./out/bare-node.mjs', import.meta.url))
const CLOCK_TICKS = 100

/** utime + stime of a process, in ms. */
function cpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS
}

/** CPU % of one core each process used over `seconds`. */
async function cpuPercent (pids: number[], seconds: number): Promise<number[]> {
  const before = pids.map(cpuMs)
  await new Promise(resolve => setTimeout(resolve, seconds * 1000))
  return pids.map((pid, i) => (cpuMs(pid) - (before[i] ?? 0)) / (seconds * 10))
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

interface LinkRow { id: string, active: boolean, local: string | null }

export async function idleBenchmarks (): Promise<BenchRow[]> {
  await bundle('bench/bare-node.ts', 'bench/out/bare-node.mjs')
  const bed = new Testbed({ devices: 3, links: 2, args: () => ['--interface-kind', 'eth1=wifi'] })
  const rows: BenchRow[] = []
  try {
    const [a, b, c] = bed.devices as [Device, Device, Device]
    for (const d of bed.devices) await d.start()
    await until('found', 10_000, async () => await bed.allSeeEachOther())
    await pair(b, a)
    await pair(c, a)
    // every pair on both links, then left alone
    await eventually('two links per pair', 30_000, async () => {
      for (const d of bed.devices) {
        const links = await d.json<LinkRow[]>('links')
        if (links.length < 4 || links.filter(l => l.active).length < 2) return undefined
      }
      return true
    })
    const settling = await cpuPercent(bed.devices.map(d => d.pid ?? 0), SETTLE_S)
    const daemons = await cpuPercent(bed.devices.map(d => d.pid ?? 0), IDLE_S)
    process.stderr.write(`idle cpu % per daemon: ${daemons.map(p => p.toFixed(2)).join(', ')} (settling, the ${SETTLE_S} s before: ${settling.map(p => p.toFixed(2)).join(', ')})\n`)

    // an idle tunnel's active link cut (a's eth0 on subnet a): until a's link to b is another
    const before = (await a.json<LinkRow[]>('links', b.id)).find(l => l.active)
    const cutAt = performance.now()
    bed.lan.setLink(1, 'a', false)
    const left = await eventually('the tunnel left the dead link', 30_000, async () => {
      const now = (await a.json<LinkRow[]>('links', b.id)).find(l => l.active)
      return now != null && now.id !== before?.id ? performance.now() - cutAt : undefined
    }, 20)
    bed.lan.setLink(1, 'a', true)
    process.stderr.write(`idle dead link left after ${left.toFixed(0)} ms\n`)
    for (const d of bed.devices) await d.stop()

    // the baseline: bare libp2p nodes in the same namespaces, connected to each other, idle
    const bare: ChildProcess[] = bed.lan.hosts.map(h => spawn('ip', ['netns', 'exec', h.ns, process.execPath, BARE], { stdio: ['ignore', 'pipe', 'inherit'] }))
    try {
      const connects = bare.map(() => new Set<string>())
      bare.forEach((child, i) => child.stdout?.on('data', (d: Buffer) => { for (const m of d.toString().matchAll(/connect (\S+)/g)) connects[i]?.add(m[1] as string) }))
      await until('bare nodes connected', 20_000, async () => connects.every(s => s.size >= 2))
      const bareSettling = await cpuPercent(bare.map(p => p.pid ?? 0), SETTLE_S)
      const baseline = await cpuPercent(bare.map(p => p.pid ?? 0), IDLE_S)
      process.stderr.write(`idle cpu % per bare node: ${baseline.map(p => p.toFixed(2)).join(', ')}\n`)
      const value = mean(daemons)
      const base = Math.max(mean(baseline), 0.01)
      rows.push(row('idle-cpu', '%', value, base, '<= 0.5 % and <= 1.5x', value <= 0.5 && value <= 1.5 * base))
      rows.push(row('idle-cpu-settling', '%', mean(settling), Math.max(mean(bareSettling), 0.01), 'reported', true))
      rows.push(row('idle-dead-link', 'ms', left, 10_000, '<= 10000 ms', left <= 10_000))
    } finally {
      for (const p of bare) p.kill('SIGTERM')
    }
  } finally {
    await bed.close()
  }
  return rows
}
