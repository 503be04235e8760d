import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeSecretFile } from '../device-key.ts'
import { CAPABILITIES, GRANTS_FILE } from './constants.ts'
import { InvalidGrantError, NotAMemberError } from './errors.ts'

/** Explicit entries of the master list; anything not listed falls back to the default. */
export type GrantTable = Record<string, Record<string, boolean>>

export interface GrantEntry {
  device: string
  capability: string
  allowed: boolean
  /** `default` (members may use everything) or `explicit` (grant/revoke). */
  source: 'default' | 'explicit'
}

export function isCapability (name: string): boolean {
  return (CAPABILITIES as readonly string[]).includes(name) || /^channel:[a-z0-9][a-z0-9._-]{0,63}$/.test(name)
}

/**
 * The policy, as a pure function: members may use every capability of this device unless
 * revoked for it; devices outside the account may use none, whatever the table says.
 */
export function may (table: GrantTable, device: string, capability: string, isMember: boolean): boolean {
  if (!isMember) return false
  const explicit = table[device]?.[capability]
  if (explicit != null) return explicit
  // an app channel is covered by the `channels` entry unless it has its own
  if (capability.startsWith('channel:')) return table[device]?.channels ?? true
  return true
}

/** This device's master list: which devices may use which of its capabilities. */
export class Grants {
  private readonly path: string
  private readonly isMember: (device: string) => boolean
  private table: GrantTable = {}

  constructor (init: { dataDir: string, isMember(device: string): boolean }) {
    this.path = join(init.dataDir, GRANTS_FILE)
    this.isMember = init.isMember
  }

  async load (): Promise<void> {
    try {
      const raw = JSON.parse(await readFile(this.path, 'utf8')) as unknown
      if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not an object')
      this.table = raw as GrantTable
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.path} is damaged (${(err as Error).message}); fix or delete it`)
    }
  }

  /** The one question every service asks: may device D use capability C here? */
  may (device: string, capability: string): boolean {
    return may(this.table, device, capability, this.isMember(device))
  }

  /** Members explicitly refused `capability` (what a profile tells them, so they look elsewhere). */
  deniedFor (capability: string): string[] {
    return Object.entries(this.table).filter(([device, caps]) => caps[capability] === false && this.isMember(device)).map(([device]) => device)
  }

  async set (device: string, capability: string, allowed: boolean): Promise<void> {
    if (!isCapability(capability)) throw new InvalidGrantError(`unknown capability "${capability}": one of ${CAPABILITIES.join(', ')} or channel:<name>`)
    if (!this.isMember(device)) throw new NotAMemberError('that device is not a member of this account; pair it first (devices outside the account may use nothing)')
    const next: GrantTable = { ...this.table, [device]: { ...this.table[device], [capability]: allowed } }
    await writeSecretFile(this.path, new TextEncoder().encode(JSON.stringify(next, null, 2)))
    this.table = next
  }

  /** The effective list for these devices: every known capability, allowed or not, and why. */
  list (devices: string[]): GrantEntry[] {
    const caps = new Set<string>(CAPABILITIES)
    for (const d of devices) for (const c of Object.keys(this.table[d] ?? {})) caps.add(c)
    return devices.flatMap(device => [...caps].map(capability => ({
      device,
      capability,
      allowed: this.may(device, capability),
      source: this.table[device]?.[capability] != null && this.isMember(device) ? 'explicit' as const : 'default' as const
    })))
  }
}
