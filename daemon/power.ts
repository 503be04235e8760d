import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PowerFacts } from '../node/index.ts'

/** How often power facts are read again; the profile changes only when they change in steps. */
export const POWER_POLL_MS = 60_000

function read (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

/**
 * Battery and mains facts from Linux sysfs, where the machine has them (laptops, phones under
 * Termux with access, single-board computers with a UPS hat). `sysfs` is a parameter for tests.
 */
export function readPower (sysfs = '/sys/class/power_supply'): PowerFacts | undefined {
  if (!existsSync(sysfs)) return undefined
  const facts: PowerFacts = {}
  for (const name of readdirSync(sysfs)) {
    const dir = join(sysfs, name)
    const type = read(join(dir, 'type'))
    if (type === 'Battery' && facts.battery == null) {
      const capacity = Number(read(join(dir, 'capacity')))
      if (Number.isInteger(capacity) && capacity >= 0 && capacity <= 100) facts.battery = capacity
      const status = read(join(dir, 'status'))
      if (status != null) facts.charging = status === 'Charging' || status === 'Full'
    } else if (type === 'Mains') {
      facts.mains = (facts.mains ?? false) || read(join(dir, 'online')) === '1'
    }
  }
  return Object.keys(facts).length > 0 ? facts : undefined
}

/** Facts worth telling the other devices again: charging or mains changed, or the battery crossed a 10 % step. */
export function powerChanged (a: PowerFacts | undefined, b: PowerFacts | undefined): boolean {
  const step = (p?: PowerFacts): number | undefined => p?.battery == null ? undefined : Math.floor(p.battery / 10)
  return a?.charging !== b?.charging || a?.mains !== b?.mains || step(a) !== step(b)
}
