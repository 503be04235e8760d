/**
 * The shapes the control API answers with: the CLI contract (`--json` fields). Type imports
 * only, so the CLI can share them without loading anything of the daemon.
 */
import type { LinkKind } from '../../link/interface-class.ts'

export type Relation = 'self' | 'member' | 'nearby'

export interface LinkSummary {
  id: string
  kind: LinkKind
  rank: number
  rttMs: number | null
  remote: string
}

/** One row of `companion devices`. */
export interface DeviceEntry {
  id: string
  name: string
  kind: string
  relation: Relation
  online: boolean
  capabilities: string[]
  link: LinkSummary | null
  /** Known addresses of the device. */
  addresses: string[]
  /** What a member phone's SMS backend knows of its SIM (number, carrier, country, roaming, signal 0–4). */
  sim?: { number?: string, carrier?: string, country?: string, roaming?: boolean, signal?: number }
}

/** `companion status`. */
export interface Status {
  id: string
  name: string
  kind: string
  account: string | null
  addresses: string[]
  sms: { backend: string, ready: boolean, number?: string }
  uptimeMs: number
  version: string
  dataDir: string
}

export interface DevicePatch {
  name?: string
  kind?: string
}
