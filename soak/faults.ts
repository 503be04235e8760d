import { pick } from '../testbed/sms-events.ts'
import type { Device } from '../testbed/index.ts'
import type { LinkName } from '../testbed/netns.ts'
import type { Load } from './load.ts'
import type { SoakWorld } from './world.ts'

/** What the network and the person do to the devices, and how often (in a long run). */
export const FAULT_PERIODS_MS = {
  /** The laptop's link cut for 5 s. */
  cut: 60_000,
  /** A link of any device going down and up three times in two seconds. */
  flap: 90_000,
  /** kill -9 and restart of a device (tablets and the phone in turn). */
  crash: 240_000,
  /** A device removed, reset and paired again. */
  repair: 900_000,
  /** A file shared from the laptop while the texts go on. */
  bulk: 120_000
} as const

export type FaultKind = keyof typeof FAULT_PERIODS_MS
export interface Fault { at: number, kind: FaultKind }

/**
 * The faults of a run of `durationMs`, in time order. A short run squeezes every kind in (each
 * at least once) so that the 2-minute slice meets them all.
 */
export function schedule (durationMs: number): Fault[] {
  const faults: Fault[] = []
  const offsets: Record<FaultKind, number> = { cut: 1 / 6, flap: 3 / 8, crash: 1 / 3, repair: 1 / 2, bulk: 1 / 8 }
  for (const kind of Object.keys(FAULT_PERIODS_MS) as FaultKind[]) {
    const period = Math.min(FAULT_PERIODS_MS[kind], durationMs / (kind === 'crash' ? 3 : 2))
    // the last 15 s carry no new fault: the run ends on a network that is whole
    for (let at = period * offsets[kind] * 2; at < durationMs - 15_000; at += period) faults.push({ at, kind })
  }
  return faults.sort((a, b) => a.at - b.at)
}

export interface FaultCounts { cut: number, flap: number, crash: number, repair: number, bulk: number }

/** Plays a schedule against the world, one fault at a time (a fault never meets another half-done). */
export class Faults {
  readonly done: FaultCounts = { cut: 0, flap: 0, crash: 0, repair: 0, bulk: 0 }
  private readonly world: SoakWorld
  private readonly load: Load
  private readonly random: () => number
  private readonly say: (line: string) => void
  private crashes = 0
  private readonly warmupMs: number
  private startedAt = 0

  constructor (init: { world: SoakWorld, load: Load, random: () => number, warmupMs: number, say: (line: string) => void }) {
    this.warmupMs = init.warmupMs
    this.world = init.world
    this.load = init.load
    this.random = init.random
    this.say = init.say
  }

  async play (faults: Fault[], startedAt: number, stopped: () => boolean): Promise<void> {
    this.startedAt = startedAt
    for (const fault of faults) {
      while (Date.now() - startedAt < fault.at) {
        if (stopped()) return
        await new Promise(resolve => setTimeout(resolve, 200))
      }
      await this.one(fault.kind)
      this.done[fault.kind]++
    }
  }

  private async one (kind: FaultKind): Promise<void> {
    const { world } = this
    const tablets = world.devices.slice(2)
    if (kind === 'cut') {
      const link: LinkName = pick(this.random, ['a', 'b'])
      this.say(`cut: the laptop's link ${link} for 5 s`)
      await world.cut(world.laptop, link, 5_000)
    } else if (kind === 'flap') {
      const device = pick(this.random, world.devices)
      const link: LinkName = pick(this.random, ['a', 'b'])
      this.say(`flap: ${world.name(device)}'s link ${link}`)
      for (let i = 0; i < 3; i++) await world.cut(device, link, 300)
    } else if (kind === 'crash') {
      // the laptop once, in the warm-up; then tablets and the phone in turn, the laptop staying
      // up so that its memory is measured over the whole rest of the run
      const victims: Device[] = [...tablets, world.phone]
      const device = this.crashes === 0 && Date.now() - this.startedAt < this.warmupMs ? world.laptop : victims[this.crashes % victims.length] as Device
      this.crashes++
      this.say(`crash: kill -9 ${world.name(device)}, restart`)
      await world.crash(device)
    } else if (kind === 'repair') {
      const device = tablets.at(-1) ?? world.phone
      this.say(`repair: remove ${world.name(device)}, reset it, pair it again`)
      await world.removeAndPairAgain(device)
    } else {
      // not the tablet the repair resets (with one tablet, the phone: bulk beside its SMS work)
      const to = tablets.length >= 2 ? tablets[0] as Device : world.phone
      this.say(`bulk: share a file to ${world.name(to)}`)
      this.load.share(to)
    }
  }
}
