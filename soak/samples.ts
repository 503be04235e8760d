import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Device } from '../testbed/index.ts'

/** One look at one running daemon. */
export interface Sample {
  /** ms since the load started */
  t: number
  device: string
  /** The process: a restart starts a new series. */
  pid: number
  rssMb: number
  /** Of which anonymous, and file-backed. */
  anonMb: number
  fileMb: number
  /** What the JavaScript heap uses (the daemon's own count, `status.memory`); NaN when it did not answer. */
  heapMb: number
  /** Buffers outside the JavaScript heap (`status.memory.externalMb`); NaN when it did not answer. */
  externalMb: number
  fds: number
  /** SQLite files in its data directory (databases and their write-ahead logs), bytes. */
  dbBytes: number
  walBytes: number
}

/** Resident memory, and its parts: anonymous (what the process allocated) and file-backed (mostly node's own code, shared, reclaimable). */
function residentMb (pid: number): { rssMb: number, anonMb: number, fileMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024
  return { rssMb: kb('VmRSS'), anonMb: kb('RssAnon'), fileMb: kb('RssFile') }
}

function sqliteBytes (dir: string): { dbBytes: number, walBytes: number } {
  let dbBytes = 0
  let walBytes = 0
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.db')) dbBytes += statSync(join(dir, name)).size
    else if (name.endsWith('.db-wal')) walBytes += statSync(join(dir, name)).size
  }
  return { dbBytes, walBytes }
}

/** Sample every running device (a device between kill and restart is skipped). */
export async function sample (devices: Array<{ name: string, device: Device }>, t: number): Promise<Sample[]> {
  const samples: Sample[] = []
  for (const { name, device } of devices) {
    const pid = device.pid
    if (pid == null || !device.running) continue
    const memory = await device.api.call<{ memory: { heapMb: number, externalMb: number } }>('GET', '/v1/status').then(s => s.memory, () => ({ heapMb: NaN, externalMb: NaN }))
    try {
      samples.push({ t, device: name, pid, ...residentMb(pid), heapMb: memory.heapMb, externalMb: memory.externalMb, fds: readdirSync(`/proc/${pid}/fd`).length, ...sqliteBytes(device.dataDir) })
    } catch {} // it died between the check and the read: the next sample sees the new one
  }
  return samples
}

/** Least-squares slope of rss (or the heap) over time, MB per hour. */
export function growthMbPerHour (all: Sample[], of: 'rssMb' | 'anonMb' | 'heapMb' | 'externalMb' = 'rssMb'): number {
  const series = all.filter(s => Number.isFinite(s[of]))
  const n = series.length
  if (n < 2) return NaN
  const xs = series.map(s => s.t / 3_600_000)
  const ys = series.map(s => s[of])
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my)
    den += ((xs[i] as number) - mx) ** 2
  }
  return num / den
}

/** The samples of each process (a device's run between restarts), in time order. */
export function byProcess (samples: Sample[]): Map<string, Sample[]> {
  const series = new Map<string, Sample[]>()
  for (const s of samples) {
    const key = `${s.device} pid ${s.pid}`
    series.set(key, [...(series.get(key) ?? []), s])
  }
  return series
}
