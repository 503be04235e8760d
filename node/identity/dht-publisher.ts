import type { Logger, PrivateKey } from '@libp2p/interface'
import { MessageType, type KadDHT } from '@libp2p/kad-dht'
import { accountSecrets, decryptDhtRecord, dhtProfileSelector, openDhtRecord, profileKey, sealDhtProfile } from './dht-profile.ts'
import { InvalidRecordError } from './errors.ts'
import type { AccountStore } from './account.ts'
import type { OwnProfile } from './own-profile.ts'
import type { ProfileBook } from './profile-book.ts'

/** How long one put or get may look for DHT peers. */
const DHT_OP_TIMEOUT_MS = 15_000
/** A put no peer took (none known yet, all busy) is tried again after these delays. */
const RETRY_DELAYS_MS = [2_000, 5_000, 10_000, 30_000, 60_000]
/** Records are put again now and then: peers forget them, and new peers should hold them. */
const REPUBLISH_MS = 60 * 60_000

export interface DhtProfilesInit {
  dht: KadDHT
  account: AccountStore
  own: OwnProfile
  book: ProfileBook
  deviceKey: PrivateKey
  /** Where this device can be reached now (its announced addresses), for the members to find it. */
  addresses(): string[]
  log: Logger
}

/**
 * Puts this device's profile and addresses in the DHT, where the other members can find
 * them, and looks up another member's when it cannot be reached where it was.
 */
export class DhtProfiles {
  private readonly dht: KadDHT
  private readonly account: AccountStore
  private readonly own: OwnProfile
  private readonly book: ProfileBook
  private readonly deviceKey: PrivateKey
  private readonly addresses: () => string[]
  private readonly log: Logger
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (init: DhtProfilesInit) {
    this.dht = init.dht
    this.account = init.account
    this.own = init.own
    this.book = init.book
    this.deviceKey = init.deviceKey
    this.addresses = init.addresses
    this.log = init.log
  }

  /** A member's addresses from its DHT record (the newest one found); [] if none is found. */
  async locate (device: string, signal: AbortSignal): Promise<string[]> {
    const secrets = accountSecrets(this.account.key)
    const key = profileKey(secrets, device)
    const values: Uint8Array[] = []
    for await (const event of this.dht.get(key, { signal })) {
      if (event.name === 'VALUE') values.push(event.value)
    }
    if (values.length === 0) return []
    const value = values[dhtProfileSelector(key, values)] as Uint8Array
    const { record, nonce, ct } = await openDhtRecord(key, value)
    if (record.device !== device) throw new InvalidRecordError('the DHT record is of another device')
    const { cert, profile, addrs } = decryptDhtRecord(secrets, key, nonce, ct)
    const checked = await this.book.verify(device, cert, profile)
    if (!this.book.isMemberCert(checked.cert)) throw new InvalidRecordError('the DHT record is of a device that is no longer a member')
    return addrs
  }

  /** Put the current profile; until a peer takes it, try again (a put to nobody "succeeds"). */
  async publish (attempt = 0): Promise<void> {
    clearTimeout(this.timer)
    if (this.stopped) return
    let stored = 0
    try {
      const { full, profile } = await this.own.envelopes()
      const { key, value } = await sealDhtProfile(accountSecrets(this.account.key), this.deviceKey, profile.device, profile.seq, this.account.certificate, full, this.addresses())
      for await (const event of this.dht.put(key, value, { signal: AbortSignal.timeout(DHT_OP_TIMEOUT_MS) })) {
        if (event.name === 'PEER_RESPONSE' && event.messageType === MessageType.PUT_VALUE) stored++
      }
      this.log('published profile %d in the DHT on %d peers', profile.seq, stored)
    } catch (err) {
      this.log('could not publish the profile in the DHT - %s', (err as Error).message)
    }
    if (this.stopped) return
    const delay = stored > 0 ? REPUBLISH_MS : RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)] ?? REPUBLISH_MS
    this.timer = setTimeout(() => { void this.publish(stored > 0 ? 0 : attempt + 1) }, delay)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

}
