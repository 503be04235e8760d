import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger, PeerId, PeerStore } from '@libp2p/interface'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { KNOWN_DEVICE_TAG, NEARBY_DEVICE_TAG } from '../constants.ts'
import { CERT_METADATA, DEVICES_DB_FILE, MAX_NEARBY_DEVICES, PROFILE_METADATA } from './constants.ts'
import { DeviceTable, keepAddresses } from './device-table.ts'
import { InvalidCertificateError, InvalidProfileError, RemovedDeviceError, ReplayedRecordError } from './errors.ts'
import { openCertificate, openProfile, type DeviceProfile, type OpenedCertificate } from './records.ts'
import type { AccountStore } from './account.ts'
import type { DeviceId, OtherRelation } from './relation.ts'

export interface KnownDevice {
  id: string
  cert: OpenedCertificate
  profile: DeviceProfile
  certBytes: Uint8Array
  profileBytes: Uint8Array
  /** Where it was last seen (its announced addresses), kept for as long as it is known. */
  addresses: string[]
  seenAt: number
}


/** Waits for one device's profile at once (each is a relay reservation or a probe stream). */
const MAX_WAITERS_PER_DEVICE = 8

/**
 * Every device that has shown us a valid certificate and profile, kept in our own table
 * (members for as long as they are members; devices nearby, the most recently seen
 * MAX_NEARBY_DEVICES). Membership is not stored: it is decided on every question from the
 * certificate, our account and our revocation list, so pairing and revocation take effect at once.
 */
export class ProfileBook {
  private peerStore!: PeerStore
  private readonly account: AccountStore
  private readonly table: DeviceTable
  private readonly log: Logger
  private readonly now: () => number
  private readonly devices = new Map<string, KnownDevice>()
  /** Who waits for a device's profile (relay reservations, probes asked before it arrived). */
  private readonly waiters = new Map<string, Set<() => void>>()

  constructor (init: { account: AccountStore, table: DeviceTable, log: Logger, now?: () => number }) {
    this.account = init.account
    this.table = init.table
    this.log = init.log
    this.now = init.now ?? Date.now
  }

  /** Close its table (after the node stopped). */
  close (): void {
    this.table.close()
  }

  /** Read what the table remembers (once, what an older version kept in the peer store); anything that no longer verifies is dropped. */
  async load (peerStore: PeerStore): Promise<void> {
    this.peerStore = peerStore
    let stored = this.table.all()
    if (stored.length === 0) {
      const peers = await this.peerStore.all({ filters: [p => p.metadata.has(CERT_METADATA) && p.metadata.has(PROFILE_METADATA)] })
      for (const peer of peers) {
        this.table.put(peer.id.toString(), peer.metadata.get(CERT_METADATA) as Uint8Array, peer.metadata.get(PROFILE_METADATA) as Uint8Array, this.now())
        this.table.setAddresses(peer.id.toString(), peer.addresses.map(a => a.multiaddr.toString()), this.now())
      }
      stored = this.table.all()
    }
    for (const row of stored) {
      try {
        const { cert, profile } = await this.verify(row.id, row.certBytes, row.profileBytes)
        this.devices.set(row.id, { ...row, cert, profile })
      } catch (err) {
        this.log('dropping stored records of %s - %s', row.id, (err as Error).message)
        this.table.delete(row.id)
      }
    }
  }

  get (id: string): KnownDevice | undefined {
    return this.devices.get(id)
  }

  all (): KnownDevice[] {
    return [...this.devices.values()]
  }

  /** The account's other devices, as far as we know them. */
  members (): KnownDevice[] {
    return this.all().filter(d => this.isMemberCert(d.cert))
  }

  /**
   * Whether `id` is a member, once its profile is here: a device asks for things (a relay
   * reservation, probes) right after connecting, while the profile exchange is still running.
   * False when it shows nothing that makes it a member within `timeoutMs`.
   */
  async memberSoon (id: string, timeoutMs: number): Promise<boolean> {
    if (this.relation(id) === 'member') return true
    const waiting = this.waiters.get(id) ?? new Set()
    if (waiting.size >= MAX_WAITERS_PER_DEVICE) return false
    this.waiters.set(id, waiting)
    const arrived = Promise.withResolvers<void>()
    const wake = (): void => { arrived.resolve() }
    waiting.add(wake)
    const timer = setTimeout(wake, timeoutMs)
    try {
      await arrived.promise
    } finally {
      clearTimeout(timer)
      waiting.delete(wake)
      if (waiting.size === 0) this.waiters.delete(id)
    }
    return this.relation(id) === 'member'
  }

  /** Where a known device announced itself when last connected; updated on every connection. */
  remember (id: string, addresses: string[]): void {
    const known = this.devices.get(id)
    if (known == null) return
    known.addresses = keepAddresses(addresses)
    known.seenAt = this.now()
    this.table.setAddresses(id, known.addresses, known.seenAt)
  }

  /** A certificate makes a member when it is of our account's current epoch and its device is not removed. */
  isMemberCert (cert: OpenedCertificate): boolean {
    return this.account.isMemberCert(cert)
  }

  relation (id: DeviceId): OtherRelation {
    const known = this.devices.get(id)
    return known != null && this.isMemberCert(known.cert) ? 'member' : 'nearby'
  }

  /** A certificate for `from`; throws InvalidCertificateError otherwise. */
  async verifyCertificate (from: string, certBytes: Uint8Array): Promise<OpenedCertificate> {
    const cert = await openCertificate(certBytes)
    if (cert.device !== from) throw new InvalidCertificateError('the certificate is for another device')
    return cert
  }

  /** Certificate and profile of `from`, consistent with each other. Throws InvalidRecordError. */
  async verify (from: string, certBytes: Uint8Array, profileBytes: Uint8Array): Promise<{ cert: OpenedCertificate, profile: DeviceProfile }> {
    const cert = await this.verifyCertificate(from, certBytes)
    const profile = await openProfile(profileBytes)
    if (profile.device !== from) throw new InvalidProfileError('the profile is of another device')
    if (profile.account !== cert.account) throw new InvalidProfileError('the profile names another account than its certificate')
    if (this.account.isRevoked(from) && cert.account === this.account.id) throw new RemovedDeviceError('the device was removed from the account')
    return { cert, profile }
  }

  /**
   * Take a device's records if they are newer than what we hold. Throws ReplayedRecordError for
   * an older sequence number, or the same number with other content (except a full profile
   * replacing the public one of the same number: a device shows members more; or a newer
   * certificate with the same profile).
   */
  async accept (from: string, certBytes: Uint8Array, profileBytes: Uint8Array): Promise<'accepted' | 'unchanged'> {
    const { cert, profile } = await this.verify(from, certBytes, profileBytes)
    const held = this.devices.get(from)
    if (held != null) {
      if (profile.seq < held.profile.seq) throw new ReplayedRecordError(`sequence ${profile.seq} is older than ${held.profile.seq}`)
      if (profile.seq === held.profile.seq) {
        const sameProfile = bytesEqual(profileBytes, held.profileBytes)
        if (sameProfile && bytesEqual(certBytes, held.certBytes)) return 'unchanged'
        // the device moved to a newer epoch of the account and shows its new certificate before
        // it re-signs its profile (it does so right after): the same record, newer credentials
        const newerCert = sameProfile && cert.account === held.cert.account && cert.epoch > held.cert.epoch
        // the public one of a number whose full profile we hold: the device does not count us a
        // member for a moment (one of us is moving to a new epoch); what it showed before stands
        if (profile.public && !held.profile.public) return 'unchanged'
        const fullAfterPublic = held.profile.public && !profile.public
        if (!newerCert && !fullAfterPublic) throw new ReplayedRecordError(`sequence ${profile.seq} is already held with other content (${sameProfile ? `the same profile, a certificate of epoch ${cert.epoch} after ${held.cert.epoch}` : 'another profile'})`)
      }
    }
    const seenAt = this.now()
    this.devices.set(from, { id: from, cert, profile, certBytes, profileBytes, addresses: held?.addresses ?? [], seenAt })
    this.table.put(from, certBytes, profileBytes, seenAt)
    for (const wake of this.waiters.get(from) ?? []) wake()
    // members rank above devices nearby when the connection manager must close some
    const member = this.isMemberCert(cert)
    await this.peerStore.merge(peerIdFromString(from), {
      metadata: { [CERT_METADATA]: undefined, [PROFILE_METADATA]: undefined },
      tags: member ? { [KNOWN_DEVICE_TAG]: { value: 100 }, [NEARBY_DEVICE_TAG]: undefined } : { [NEARBY_DEVICE_TAG]: { value: 10 }, [KNOWN_DEVICE_TAG]: undefined }
    })
    if (!member) await this.evictNearby()
    return 'accepted'
  }

  /** Devices nearby beyond MAX_NEARBY_DEVICES give way, the least recently seen first. */
  private async evictNearby (): Promise<void> {
    const nearby = this.all().filter(d => !this.isMemberCert(d.cert))
    if (nearby.length <= MAX_NEARBY_DEVICES) return
    nearby.sort((a, b) => a.seenAt - b.seenAt)
    for (const old of nearby.slice(0, nearby.length - MAX_NEARBY_DEVICES)) await this.forget(old.id)
  }

  /** Forget a device entirely (it was revoked, or is a device nearby that gave way). */
  async forget (id: string): Promise<void> {
    this.devices.delete(id)
    this.table.delete(id)
    const peerId: PeerId = peerIdFromString(id)
    await this.peerStore.merge(peerId, { tags: { [KNOWN_DEVICE_TAG]: undefined, [NEARBY_DEVICE_TAG]: undefined } }).catch(() => {})
  }
}

/** The devices this one knows, from their table in the data directory (before the node exists: grants and channel policy ask it). */
export function openDeviceBook (dataDir: string, account: AccountStore): ProfileBook {
  return new ProfileBook({ account, table: new DeviceTable(join(dataDir, DEVICES_DB_FILE)), log: logger('companion:profile-book') })
}
