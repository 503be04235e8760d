import type { PrivateKey } from '@libp2p/interface'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { EPOCH_CODEC, EPOCH_DOMAIN, MAX_ACCOUNT_MEMBERS, MAX_CHAIN_BYTES, MAX_EPOCH_BYTES, MAX_EPOCHS_KEPT } from './constants.ts'
import { InvalidEpochError } from './errors.ts'
import { openJson, sealJson, type EnvelopeKind } from './envelope.ts'
import { accountIdOf, isDeviceId, isTime } from './records.ts'

/**
 * An account epoch: a new account key, made when a device is removed. Signed by the previous
 * epoch's key (epoch 1 by the account's first key, whose id is the account id), so a member
 * that holds any epoch's key can follow the chain to the newest one. Only the devices in
 * `members` may move to it; its private key goes to them alone (pairing, or an upgrade).
 */
export interface EpochRecord {
  v: 1
  account: string
  epoch: number
  /** Id (PeerId string) of this epoch's public key. */
  key: string
  /** The devices that belong to the account from this epoch on (the rotating one included). */
  members: string[]
  /** The devices this rotation removed. */
  removed: string[]
  /** The device that made the rotation. */
  by: string
  at: number
}

export const EPOCH_KIND: EnvelopeKind = { domain: EPOCH_DOMAIN, codec: EPOCH_CODEC, maxBytes: MAX_EPOCH_BYTES, Error: InvalidEpochError }

export async function sealEpoch (record: EpochRecord, previousKey: PrivateKey): Promise<Uint8Array> {
  return await sealJson(EPOCH_KIND, record, previousKey)
}

const ids = (value: unknown, what: string): string[] => {
  if (!Array.isArray(value) || value.length > MAX_ACCOUNT_MEMBERS || !value.every(isDeviceId)) throw new InvalidEpochError(`malformed ${what}`)
  return [...new Set(value)]
}

/** An epoch record that is well-formed and signed; returns it and the id of the key that signed it. */
export async function openEpoch (bytes: Uint8Array): Promise<{ record: EpochRecord, signer: string }> {
  const { value, signer } = await openJson(EPOCH_KIND, bytes)
  const { v, account, epoch, key, by, at } = value
  if (v !== 1) throw new InvalidEpochError(`unknown epoch record version ${String(v)}`)
  if (!isDeviceId(account) || !isDeviceId(key) || !isDeviceId(by)) throw new InvalidEpochError('malformed ids')
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1 || !isTime(at)) throw new InvalidEpochError('malformed epoch or time')
  const members = ids(value.members, 'members')
  const removed = ids(value.removed, 'removed devices')
  if (removed.some(d => members.includes(d))) throw new InvalidEpochError('a device both kept and removed')
  return { record: { v, account, epoch: epoch as number, key, members, removed, by, at: at as number }, signer: accountIdOf(signer) }
}

interface Entry { record: EpochRecord, bytes: Uint8Array }

/**
 * The account's epochs since its first key, the newest MAX_EPOCHS_KEPT of them: what every
 * member holds and shows the others. On the wire (and in `epochs.json`): UTF-8 JSON
 * `{ v: 1, account, epochs: [base64 of each signed record, oldest first] }`.
 */
export class EpochChain {
  readonly account: string
  private readonly entries: Entry[]
  /** Id of the key that signed the oldest kept record (the account id while nothing was dropped). */
  private readonly base: string

  private constructor (account: string, entries: Entry[], base: string) {
    this.account = account
    this.entries = entries
    this.base = base
  }

  static empty (account: string): EpochChain {
    return new EpochChain(account, [], account)
  }

  /** Decode and check: consecutive epochs of one account, each signed by the key of the one before. */
  static async decode (bytes: Uint8Array): Promise<EpochChain> {
    if (bytes.byteLength > MAX_CHAIN_BYTES) throw new InvalidEpochError(`epoch chain of ${bytes.byteLength} bytes is over the limit of ${MAX_CHAIN_BYTES}`)
    let parsed: { v?: unknown, account?: unknown, epochs?: unknown }
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as typeof parsed
    } catch {
      throw new InvalidEpochError('the epoch chain is not UTF-8 JSON')
    }
    if (parsed == null || parsed.v !== 1 || !isDeviceId(parsed.account) || !Array.isArray(parsed.epochs) || parsed.epochs.length > MAX_EPOCHS_KEPT) throw new InvalidEpochError('malformed epoch chain')
    const account = parsed.account
    const entries: Entry[] = []
    let base = account
    for (const item of parsed.epochs) {
      if (typeof item !== 'string') throw new InvalidEpochError('malformed epoch chain')
      const recordBytes = new Uint8Array(Buffer.from(item, 'base64'))
      const { record, signer } = await openEpoch(recordBytes)
      if (record.account !== account) throw new InvalidEpochError('an epoch of another account in the chain')
      const previous = entries[entries.length - 1]
      if (previous == null) {
        if (record.epoch === 1 && signer !== account) throw new InvalidEpochError('epoch 1 not signed by the account key')
        base = signer
      } else {
        if (record.epoch !== previous.record.epoch + 1) throw new InvalidEpochError('epochs not consecutive')
        if (signer !== previous.record.key) throw new InvalidEpochError(`epoch ${record.epoch} not signed by the key of epoch ${previous.record.epoch}`)
      }
      entries.push({ record, bytes: recordBytes })
    }
    return new EpochChain(account, entries, base)
  }

  encode (): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ v: 1, account: this.account, epochs: this.entries.map(e => Buffer.from(e.bytes).toString('base64')) }))
  }

  /** The newest epoch (0 while the account never rotated). */
  get epoch (): number {
    return this.entries[this.entries.length - 1]?.record.epoch ?? 0
  }

  /** The oldest epoch whose key this chain knows. */
  get oldestKnown (): number {
    return (this.entries[0]?.record.epoch ?? 1) - 1
  }

  get newest (): EpochRecord | undefined {
    return this.entries[this.entries.length - 1]?.record
  }

  /** Id of the key of `epoch`, if this chain knows it. */
  keyOf (epoch: number): string | undefined {
    if (epoch === this.oldestKnown) return this.base
    return this.entries.find(e => e.record.epoch === epoch)?.record.key
  }

  /** Every device a kept epoch removed. */
  removed (): Set<string> {
    return new Set(this.entries.flatMap(e => e.record.removed))
  }

  /** Each removed device with the time of the epoch that removed it (signed: the same on every device). */
  removals (): Map<string, number> {
    const at = new Map<string, number>()
    for (const e of this.entries) for (const device of e.record.removed) if (!at.has(device)) at.set(device, e.record.at)
    return at
  }

  /** The record of `epoch`'s bytes (to tell two chains apart). */
  bytesOf (epoch: number): Uint8Array | undefined {
    return this.entries.find(e => e.record.epoch === epoch)?.bytes
  }

  /** Does `newer` continue this chain (same records up to our newest, then more, linked by keys)? */
  continuedBy (newer: EpochChain): boolean {
    if (newer.account !== this.account || newer.epoch <= this.epoch) return false
    const mine = this.bytesOf(this.epoch)
    if (mine != null) {
      const theirs = newer.bytesOf(this.epoch)
      return theirs != null && bytesEqual(mine, theirs)
    }
    // we are at the oldest epoch it knows of, or it reaches back past us
    return newer.keyOf(this.epoch) === this.keyOf(this.epoch) && newer.keyOf(this.epoch) != null
  }

  /** This chain with one more record; the oldest give way past MAX_EPOCHS_KEPT. */
  async extend (record: EpochRecord, previousKey: PrivateKey): Promise<EpochChain> {
    const bytes = await sealEpoch(record, previousKey)
    const entries = [...this.entries, { record, bytes }]
    const dropped = entries.length > MAX_EPOCHS_KEPT ? entries.splice(0, entries.length - MAX_EPOCHS_KEPT) : []
    const base = dropped.length > 0 ? (dropped[dropped.length - 1] as Entry).record.key : this.base
    const chain = new EpochChain(this.account, entries, base)
    if (chain.encode().byteLength > MAX_CHAIN_BYTES) throw new InvalidEpochError('the epoch chain would be over its size limit')
    return chain
  }
}
