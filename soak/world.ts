import { rmSync } from 'node:fs'
import { Testbed, until, type Device } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { SimCarrier } from '../testbed/sms.ts'
import type { LinkName } from '../testbed/netns.ts'

/** The phone's number on the simulated carrier. */
export const PHONE_NUMBER = '+15550100001'
/** People outside: numbers no phone attached with, so a text to them is carried and stays `sent`. */
export const PEOPLE = ['+15550109001', '+15550109002', '+15550109003', '+15550109004', '+15550109005', '+15550109006']

export interface WorldInit {
  /** Devices of the one account: a phone, a laptop, then tablets. */
  devices: number
  /** Extra environment of every daemon (heap snapshots on a signal). */
  env?: (name: string) => NodeJS.ProcessEnv | undefined
  say: (line: string) => void
}

/**
 * One person's devices on the namespaced LAN (two links each) and the simulated carrier: the
 * world the soak loads and breaks. Device 1 is the phone, 2 the laptop, the rest tablets.
 */
export class SoakWorld {
  readonly bed: Testbed
  readonly carrier: SimCarrier
  private readonly say: (line: string) => void

  private constructor (init: WorldInit) {
    const names = Array.from({ length: init.devices }, (_, i) => i === 0 ? 'phone' : i === 1 ? 'laptop' : `tablet-${i - 1}`)
    this.bed = new Testbed({
      devices: init.devices,
      links: 2,
      names,
      // the soak sends far more than a person: the phone's per-device limit would refuse most of it
      args: (i) => i === 1 ? ['--kind', 'phone', '--sms', `sim://127.0.0.1:7700/${PHONE_NUMBER}`, '--sms-rate', '999999/min'] : ['--kind', i === 2 ? 'laptop' : 'tablet'],
      env: (i) => init.env?.(names[i - 1] ?? ''),
      readyTimeoutMs: 60_000
    })
    this.carrier = new SimCarrier(this.bed.lan.host(1).ns)
    this.say = init.say
  }

  static async create (init: WorldInit): Promise<SoakWorld> {
    if (init.devices < 2) throw new Error('a soak needs a phone and at least one other device')
    const world = new SoakWorld(init)
    try {
      await world.carrier.start('--db', `${world.phone.dataDir}-carrier.db`)
      for (const d of world.devices) await d.start()
      await until('all devices see each other', 60_000, async () => await world.bed.allSeeEachOther())
      for (const d of world.devices.slice(1)) await pair(d, world.phone)
      await until('every member online with the phone ready', 60_000, async () => await world.settled())
    } catch (err) {
      await world.close()
      throw err
    }
    return world
  }

  get devices (): Device[] {
    return this.bed.devices
  }

  get phone (): Device {
    return this.bed.device(1)
  }

  get laptop (): Device {
    return this.bed.device(2)
  }

  index (device: Device): number {
    return this.devices.indexOf(device) + 1
  }

  name (device: Device): string {
    return device.init.name ?? `device-${this.index(device)}`
  }

  /** Every device running, every other member online to it, and the phone's backend ready. */
  async settled (): Promise<boolean> {
    if (this.devices.some(d => !d.running)) return false
    for (const viewer of this.devices) {
      const rows = await viewer.api.call<Array<{ id: string, relation: string, online: boolean }>>('GET', '/v1/devices')
      if (this.devices.some(d => d !== viewer && !rows.some(r => r.id === d.id && r.relation === 'member' && r.online))) return false
    }
    return (await this.phone.api.call<{ sms: { ready: boolean } }>('GET', '/v1/status')).sms.ready
  }

  /** Link `link` of `device` down for `ms`, then up again. */
  async cut (device: Device, link: LinkName, ms: number): Promise<void> {
    this.bed.lan.setLink(this.index(device), link, false)
    try {
      await new Promise(resolve => setTimeout(resolve, ms))
    } finally {
      this.bed.lan.setLink(this.index(device), link, true)
    }
  }

  /** kill -9, then start again as a user's service manager would. */
  async crash (device: Device): Promise<void> {
    await device.stop('SIGKILL')
    await new Promise(resolve => setTimeout(resolve, 500))
    await device.start()
  }

  /**
   * Remove `device` from the account (from the laptop), reset it as its owner would (a removed
   * device may not come back with its old keys), and pair it again as a new device.
   */
  async removeAndPairAgain (device: Device): Promise<void> {
    const removed = await this.laptop.cli('unpair', device.id)
    if (removed.code !== 0) throw new Error(`unpair ${this.name(device)} failed: ${removed.stderr}`)
    await device.stop()
    rmSync(device.dataDir, { recursive: true, force: true })
    await device.start()
    await until(`the laptop sees the new ${this.name(device)}`, 30_000, async () =>
      (await this.laptop.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')).some(r => r.id === device.id && r.online))
    await pair(device, this.laptop)
    this.say(`${this.name(device)} paired again as ${device.id.slice(-8)}`)
  }

  async close (): Promise<void> {
    this.carrier.stop()
    await this.bed.close()
  }
}
