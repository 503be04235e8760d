import type { Logger, PrivateKey } from '@libp2p/interface'
import { MessageType, type KadDHT } from '@libp2p/kad-dht'
import { accountSecrets, sealDhtProfile } from './dht-profile.ts'
import type { AccountStore } from './account.ts'
import type { OwnProfile } from './own-profile.ts'

/** How long one put or get may look for DHT peers. */
const DHT_OP_TIMEOUT_MS = 15_000
/** A put no peer took (none known yet, all busy) is tried again after these delays. */
const RETRY_DELAYS_MS = [2_000, 5_000, 10_000, 30_000, 60_000]
/** Records are put again now and then: peers forget them, and new peers should hold them. */
const REPUBLISH_MS = 60 * 60_000

/** Puts this device's profile in the DHT, where the other members can find it. */
export class DhtProfiles {
  private readonly dht: KadDHT
  private readonly account: AccountStore
  private readonly own: OwnProfile
  private readonly deviceKey: PrivateKey
  private readonly log: Logger
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (init: { dht: KadDHT, account: AccountStore, own: OwnProfile, deviceKey: PrivateKey, log: Logger }) {
    this.dht = init.dht
    this.account = init.account
    this.own = init.own
    this.deviceKey = init.deviceKey
    this.log = init.log
  }

  /** Put the current profile; until a peer takes it, try again (a put to nobody "succeeds"). */
  async publish (attempt = 0): Promise<void> {
    clearTimeout(this.timer)
    if (this.stopped) return
    let stored = 0
    try {
      const { full, profile } = await this.own.envelopes()
      const { key, value } = await sealDhtProfile(accountSecrets(this.account.key), this.deviceKey, profile.device, profile.seq, this.account.certificate, full)
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
