import type { Logger, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { accountSecrets, sealDhtProfile } from './dht-profile.ts'
import type { AccountStore } from './account.ts'
import type { OwnProfile } from './own-profile.ts'

/** How long one put or get may look for DHT peers. */
const DHT_OP_TIMEOUT_MS = 15_000

/** Puts this device's profile in the DHT, where the other members can find it. */
export class DhtProfiles {
  private readonly dht: KadDHT
  private readonly account: AccountStore
  private readonly own: OwnProfile
  private readonly deviceKey: PrivateKey
  private readonly log: Logger

  constructor (init: { dht: KadDHT, account: AccountStore, own: OwnProfile, deviceKey: PrivateKey, log: Logger }) {
    this.dht = init.dht
    this.account = init.account
    this.own = init.own
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

}
