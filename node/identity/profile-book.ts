import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger, PeerId, PeerStore } from '@libp2p/interface'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { KNOWN_DEVICE_TAG } from '../constants.ts'
import { CERT_METADATA, PROFILE_METADATA } from './constants.ts'
import { InvalidCertificateError, InvalidProfileError, ReplayedRecordError } from './errors.ts'
import { openCertificate, openProfile, type DeviceCertificate, type DeviceProfile } from './records.ts'
import type { AccountStore } from './account.ts'

export interface KnownDevice {
  id: string
  cert: DeviceCertificate
  profile: DeviceProfile
  certBytes: Uint8Array
  profileBytes: Uint8Array
}

export type Relation = 'member' | 'nearby'

/**
 * Every device that has shown us a valid certificate and profile, persisted in the peer store.
 * Membership is not stored: it is decided on every question from the certificate, our
 * account and our revocation list, so pairing and revocation take effect at once.
 */
export class ProfileBook {
  private peerStore!: PeerStore
  private readonly account: AccountStore
  private readonly log: Logger
  private readonly devices = new Map<string, KnownDevice>()

  constructor (init: { account: AccountStore, log: Logger }) {
    this.account = init.account
    this.log = init.log
  }

  /** Read what the peer store remembers; anything that no longer verifies is dropped. */
  async load (peerStore: PeerStore): Promise<void> {
    this.peerStore = peerStore
    const peers = await this.peerStore.all({ filters: [p => p.metadata.has(CERT_METADATA) && p.metadata.has(PROFILE_METADATA)] })
    for (const peer of peers) {
      try {
        const certBytes = peer.metadata.get(CERT_METADATA) as Uint8Array
        const profileBytes = peer.metadata.get(PROFILE_METADATA) as Uint8Array
        const { cert, profile } = await this.verify(peer.id.toString(), certBytes, profileBytes)
        this.devices.set(peer.id.toString(), { id: peer.id.toString(), cert, profile, certBytes, profileBytes })
      } catch (err) {
        this.log('dropping stored records of %p - %s', peer.id, (err as Error).message)
      }
    }
  }

  get (id: string): KnownDevice | undefined {
    return this.devices.get(id)
  }

  all (): KnownDevice[] {
    return [...this.devices.values()]
  }

  /** A certificate makes a member when it is of our account and its device is not revoked. */
  isMemberCert (cert: DeviceCertificate): boolean {
    return cert.account === this.account.id && !this.account.isRevoked(cert.device)
  }

  relation (id: string): Relation {
    const known = this.devices.get(id)
    return known != null && this.isMemberCert(known.cert) ? 'member' : 'nearby'
  }

  /** A certificate for `from`; throws InvalidCertificateError otherwise. */
  async verifyCertificate (from: string, certBytes: Uint8Array): Promise<DeviceCertificate> {
    const cert = await openCertificate(certBytes)
    if (cert.device !== from) throw new InvalidCertificateError('the certificate is for another device')
    return cert
  }

  /** Certificate and profile of `from`, consistent with each other. Throws InvalidRecordError. */
  async verify (from: string, certBytes: Uint8Array, profileBytes: Uint8Array): Promise<{ cert: DeviceCertificate, profile: DeviceProfile }> {
    const cert = await this.verifyCertificate(from, certBytes)
    const profile = await openProfile(profileBytes)
    if (profile.device !== from) throw new InvalidProfileError('the profile is of another device')
    if (profile.account !== cert.account) throw new InvalidProfileError('the profile names another account than its certificate')
    if (this.account.isRevoked(from) && cert.account === this.account.id) throw new InvalidCertificateError('the device was removed from the account')
    return { cert, profile }
  }

  /**
   * Take a device's records if they are newer than what we hold. Throws ReplayedRecordError for
   * an older sequence number, or the same number with other content (except a full profile
   * replacing the public one of the same number: a device shows members more).
   */
  async accept (from: string, certBytes: Uint8Array, profileBytes: Uint8Array): Promise<'accepted' | 'unchanged'> {
    const { cert, profile } = await this.verify(from, certBytes, profileBytes)
    const held = this.devices.get(from)
    if (held != null) {
      if (profile.seq < held.profile.seq) throw new ReplayedRecordError(`sequence ${profile.seq} is older than ${held.profile.seq}`)
      if (profile.seq === held.profile.seq) {
        if (bytesEqual(profileBytes, held.profileBytes) && bytesEqual(certBytes, held.certBytes)) return 'unchanged'
        if (!(held.profile.public && !profile.public)) throw new ReplayedRecordError(`sequence ${profile.seq} is already held with other content`)
      }
    }
    this.devices.set(from, { id: from, cert, profile, certBytes, profileBytes })
    await this.peerStore.merge(peerIdFromString(from), {
      metadata: { [CERT_METADATA]: certBytes, [PROFILE_METADATA]: profileBytes },
      tags: { [KNOWN_DEVICE_TAG]: { value: 50 } }
    })
    return 'accepted'
  }

  /** Forget a device entirely (it was revoked). */
  async forget (id: string): Promise<void> {
    this.devices.delete(id)
    const peerId: PeerId = peerIdFromString(id)
    await this.peerStore.merge(peerId, { metadata: { [CERT_METADATA]: undefined, [PROFILE_METADATA]: undefined }, tags: { [KNOWN_DEVICE_TAG]: undefined } }).catch(() => {})
  }
}
