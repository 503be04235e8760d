/**
 * The shapes the control API answers with: the CLI contract (`--json` fields). Type imports
 * only, so the CLI can share them without loading anything of the daemon.
 */
import type { LinkKind } from '../../link/link-types.ts'
import type { MessageView } from '../../sms/view-types.ts'
import type { ShareView } from '../../share/constants.ts'
import type { DeviceId, Relation } from '../../node/identity/relation.ts'

export type { DeviceId, Relation } from '../../node/identity/relation.ts'

export interface LinkSummary {
  id: string
  kind: LinkKind
  rank: number
  rttMs: number | null
  remote: string
}

/** One row of `companion devices`. */
export interface DeviceEntry {
  id: DeviceId
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
  /** The account's epoch: it moves on with every removal (a new account key). */
  accountEpoch: number
  addresses: string[]
  sms: { backend: string, ready: boolean, number?: string }
  uptimeMs: number
  /** The daemon's memory now, MB: resident, what the JavaScript heap uses of it, and buffers outside that heap. */
  memory: { rssMb: number, heapMb: number, externalMb: number }
  version: string
  dataDir: string
}

export interface DevicePatch {
  name?: string
  kind?: string
}

/** Events the daemon publishes on its control API's event stream. */
export interface DaemonEventMap {
  /** A device came online, went offline, or showed a new profile. */
  device: { id: DeviceId, online: boolean, name?: string, kind?: string, relation?: Relation }
  /** A pairing request arrived or ended (member side). */
  pair: { type: 'request' | 'ended', id: string, name?: string, kind?: string, expiresAt?: number, paired?: boolean, reason?: string }
  /** The link carrying the tunnel to a member device changed: another one, or none (`active: false`). */
  link: { device: string, active: boolean }
  /** A message appeared, changed status, or was read (on any device of the account). */
  sms: { type: 'message' | 'status' | 'read', message: MessageView }
  /** Contacts changed (an import here or on another device): names of conversations may have. */
  contacts: { changed: number }
  /** A file or snippet transfer, in or out, changed (queued, progress, done, failed). */
  share: ShareView
}

export type DaemonEventType = keyof DaemonEventMap

/** One row of `companion grants --json`: may `device` use `capability` of this device? */
export interface GrantView {
  device: string
  name: string
  capability: string
  allowed: boolean
  /** `default` (members may use everything) or `explicit` (grant/revoke). */
  source: 'default' | 'explicit'
}

/** A device waiting to join the account (`companion pair requests --json`). */
export interface PairRequestView {
  id: string
  name: string
  kind: string
  expiresAt: number
}
