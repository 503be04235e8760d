import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lan, type LanInit } from './netns.ts'
import { Device, keepLogsOnFailure } from './device.ts'
import type { Relation } from '../node/identity/relation.ts'

export { Lan, destroyAllLans } from './netns.ts'
export { Device, runCli, eventually, until, keepLogsOnFailure, requireBuild, CLI, REPO } from './device.ts'
export type { CliResult } from './device.ts'

/** Devices as `companion devices --json` lists them. */
export interface DeviceRow {
  id: string
  name: string
  kind: string
  relation: Relation
  online: boolean
  capabilities: string[]
  link: { id: string, kind: string, rank: number, rttMs: number | null, remote: string } | null
  addresses: string[]
}

/** A temporary folder for data directories, removed by `cleanup`. Short: socket paths are limited. */
export function tempDir (): { path: string, cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), 'cl-'))
  return { path, cleanup: () => { rmSync(path, { recursive: true, force: true }) } }
}

/** A test world: a namespaced LAN, one daemon per host, torn down by `close()` whatever happened. */
export class Testbed {
  readonly lan: Lan
  readonly devices: Device[]
  private readonly tmp = tempDir()

  constructor (init: LanInit & { args?: (index: number) => string[], env?: (index: number) => NodeJS.ProcessEnv | undefined, names?: string[], readyTimeoutMs?: number }) {
    this.lan = Lan.create(init)
    this.devices = this.lan.hosts.map(host => new Device({
      dataDir: join(this.tmp.path, `d${host.index}`),
      ns: host.ns,
      name: init.names?.[host.index - 1] ?? `device-${host.index}`,
      args: init.args?.(host.index) ?? [],
      ...(init.env?.(host.index) == null ? {} : { env: init.env(host.index) }),
      readyTimeoutMs: init.readyTimeoutMs
    }))
  }

  device (index: number): Device {
    const device = this.devices[index - 1]
    if (device == null) throw new Error(`no device ${index}`)
    return device
  }

  /** The devices `viewer` currently sees online, by id. */
  async onlineSeenBy (viewer: Device): Promise<Set<string>> {
    const rows = await viewer.api.call<DeviceRow[]>('GET', '/v1/devices')
    return new Set(rows.filter(r => r.relation !== 'self' && r.online).map(r => r.id))
  }

  /** Whether every running device sees every other running one online. */
  async allSeeEachOther (devices: Device[] = this.devices): Promise<boolean> {
    for (const viewer of devices) {
      const seen = await this.onlineSeenBy(viewer)
      if (devices.some(d => d !== viewer && !seen.has(d.id))) return false
    }
    return true
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.devices.map(async d => await d.stop()))
    this.lan.destroy()
    this.tmp.cleanup()
  }

  /** After a test: keep the daemons' logs if it failed (keepLogsOnFailure), then close. */
  async closeAfter (test: Mocha.Test | undefined): Promise<void> {
    await keepLogsOnFailure(test, this.devices)
    await this.close()
  }
}
