import type { Logger, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { accountSecrets, decryptDhtRecord, openDhtRecord, profileKey, sealDhtProfile } from './dht-profile.ts'
import type { AccountStore } from './account.ts'
import type { OwnProfile } from './own-profile.ts'
import type { ProfileBook } from './profile-book.ts'

/** How long one put or get may look for DHT peers. */
const DHT_OP_TIMEOUT_MS = 15_000

/** Puts this device's profile in the DHT and looks up other members' profiles there. */
export class DhtProfiles {
  private readonly dht: KadDHT
  private readonly account: AccountStore
  private readonly own: OwnProfile
  private readonly book: ProfileBook
  private readonly deviceKey: PrivateKey
  private readonly log: Logger

  constructor (init: { dht: KadDHT, account: AccountStore, own: OwnProfile, book: ProfileBook, deviceKey: PrivateKey, log: Logger }) {
    this.dht = init.dht
    this.account = init.account
    this.own = init.own
    this.book = init.book
    this.deviceKey = init.deviceKey
    this.log = init.log
  }

  async publish (): Promise<void> {
    const { full, profile } = await this.own.envelopes()
    const { key, value } = await sealDhtProfile(accountSecrets(this.account.key), this.deviceKey, profile.device, profile.seq, this.account.certificate, full)
    try {
      for await (const _ of this.dht.put(key, value, { signal: AbortSignal.timeout(DHT_OP_TIMEOUT_MS) })) { /* drain */ }
      this.log('published profile %d in the DHT', profile.seq)
    } catch (err) {
      this.log('could not publish the profile in the DHT - %s', (err as Error).message)
    }
  }

  /** Fetch a member's profile from the DHT; it is taken if newer than the one held. */
  async lookup (deviceId: string): Promise<boolean> {
    const secrets = accountSecrets(this.account.key)
    const key = profileKey(secrets, deviceId)
    try {
      for await (const event of this.dht.get(key, { signal: AbortSignal.timeout(DHT_OP_TIMEOUT_MS) })) {
        if (event.name !== 'VALUE') continue
        const { record, nonce, ct } = await openDhtRecord(key, event.value)
        const { cert, profile } = decryptDhtRecord(secrets, key, nonce, ct)
        if (record.device !== deviceId) continue
        const verdict = await this.book.accept(deviceId, cert, profile).catch(() => 'refused')
        return verdict === 'accepted' || verdict === 'unchanged'
      }
    } catch (err) {
      this.log('DHT lookup of %s failed - %s', deviceId, (err as Error).message)
    }
    return false
  }

  get deviceId (): string {
    return peerIdFromPrivateKey(this.deviceKey).toString()
  }
}
