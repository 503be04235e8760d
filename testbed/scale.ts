import type { Device, Testbed } from './index.ts'

/** How many of the ordered pairs (viewer sees other online) hold now, and which do not ("3→7"). */
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
