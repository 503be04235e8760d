import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { writeSecretFile } from '../device-key.ts'
import type { DeviceKind } from '../constants.ts'
import { PROFILE_SEQ_FILE } from './constants.ts'
import { sealProfile, type Capability, type DeviceProfile, type PowerFacts } from './records.ts'
import type { AccountStore } from './account.ts'

/** What this device says of itself; the daemon supplies it, the node signs it. */
export interface SelfDescription {
  name: string
  kind: DeviceKind
  capabilities: Capability[]
  power?: PowerFacts
}

/**
 * This device's signed profile. The sequence number is persisted and goes up on every start
 * and every change, so a peer can always tell the newest profile from a replayed one.
 */
export class OwnProfile {
  private readonly dataDir: string
  private readonly deviceKey: PrivateKey
  private readonly account: AccountStore
  private readonly describe: () => SelfDescription
  private seq = 0
  private cache?: { seq: number, full: Uint8Array, public: Uint8Array, profile: DeviceProfile }
  private signing?: { seq: number, done: Promise<{ seq: number, full: Uint8Array, public: Uint8Array, profile: DeviceProfile }> }

  constructor (init: { dataDir: string, deviceKey: PrivateKey, account: AccountStore, describe: () => SelfDescription }) {
    this.dataDir = init.dataDir
    this.deviceKey = init.deviceKey
    this.account = init.account
    this.describe = init.describe
  }

  async start (): Promise<void> {
    const text = await readFile(join(this.dataDir, PROFILE_SEQ_FILE), 'utf8').catch(() => '0')
    this.seq = Number.parseInt(text, 10) || 0
    await this.bump()
  }

  /** Something changed (name, account, capabilities): a new sequence number, signed lazily. */
  async bump (): Promise<void> {
    // persist before use: a restart must never reuse a number already sent
    this.seq = Math.max(this.seq + 1, Date.now())
    await writeSecretFile(join(this.dataDir, PROFILE_SEQ_FILE), new TextEncoder().encode(String(this.seq)))
    this.cache = undefined
  }

  /** The full profile (for members) and the public one (name and kind, for everyone else). */
  async envelopes (): Promise<{ full: Uint8Array, public: Uint8Array, profile: DeviceProfile }> {
    // the device joined or left an account and has not been told to re-sign yet (it will be):
    // a profile naming the old account beside the new certificate would be refused as invalid
    if (this.cache != null && this.cache.profile.account !== this.account.id) await this.bump()
    if (this.cache?.seq === this.seq) return this.cache
    // one signing per number: two callers at once must not sign two different records with it
    if (this.signing?.seq !== this.seq) this.signing = { seq: this.seq, done: this.sign(this.seq) }
    return await this.signing.done
  }

  private async sign (seq: number): Promise<{ seq: number, full: Uint8Array, public: Uint8Array, profile: DeviceProfile }> {
    const self = this.describe()
    const base = { v: 1 as const, device: peerIdFromPrivateKey(this.deviceKey).toString(), account: this.account.id, name: self.name, kind: self.kind, seq, time: Date.now() }
    const profile: DeviceProfile = { ...base, public: false, capabilities: self.capabilities, ...(self.power == null ? {} : { power: self.power }) }
    const cache = {
      seq,
      profile,
      full: await sealProfile(profile, this.deviceKey),
      public: await sealProfile({ ...base, public: true, capabilities: [] }, this.deviceKey)
    }
    if (seq === this.seq) this.cache = cache
    return cache
  }

}
