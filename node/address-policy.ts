import type { Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { ipOf } from '../link/interface-class.ts'

/** Address policy: which of our addresses we announce, which of theirs we dial. Pure functions. */

export function isLoopback (ma: Multiaddr): boolean {
  const addr = ipOf(ma)
  if (addr == null) return false
  return addr.family === 4 ? addr.ip.startsWith('127.') : addr.ip === '::1'
}

/** Unspecified (0.0.0.0, ::) addresses can be listened on but never dialled. */
export function isUnspecified (ma: Multiaddr): boolean {
  const addr = ipOf(ma)
  return addr != null && (addr.ip === '0.0.0.0' || addr.ip === '::')
}

/**
 * What we tell other devices (mDNS, identify, DHT): never our loopback addresses, which on
 * their host would point at themselves, unless loopback is all we have (a one-machine setup,
 * such as the demo, where every device shares the loopback interface).
 */
export function announceable (addrs: Multiaddr[]): Multiaddr[] {
  const usable = addrs.filter(ma => !isUnspecified(ma))
  const external = usable.filter(ma => !isLoopback(ma))
  return external.length > 0 ? external : usable
}

export interface DialPolicyInit {
  /** True when this device itself listens only on loopback: then other devices are on this host. */
  loopbackOnly(): boolean
  /** Devices the account removed are refused entirely, both ways. */
  isRevoked(deviceId: string): boolean
}

/**
 * Never dial another device's loopback address (mDNS and identify hand them out) unless this
 * device is loopback-only, where loopback is the only way to reach anyone. Never talk to a
 * device the account removed.
 */
export function dialPolicyGater (init: DialPolicyInit): ConnectionGater {
  const revoked = (peer: PeerId): boolean => init.isRevoked(peer.toString())
  return {
    denyDialMultiaddr: (ma: Multiaddr) => (isLoopback(ma) && !init.loopbackOnly()) || isUnspecified(ma),
    denyDialPeer: revoked,
    denyInboundEncryptedConnection: revoked,
    denyOutboundEncryptedConnection: revoked
  }
}

export interface RelayPolicyInit {
  /** A device of this device's account. */
  isMember(deviceId: string): boolean
  /** A device that showed a profile (of any account). */
  isKnown(deviceId: string): boolean
  /** Whether a device turns out a member once its profile arrives (it asks right after connecting). */
  memberSoon(deviceId: string, timeoutMs: number): Promise<boolean>
}

/** How long a reservation request waits for the profile exchange of its connection. */
export const RESERVATION_PROFILE_WAIT_MS = 5_000

/**
 * Relaying is for the devices of one account: relayed connections only between two members
 * of this device's account, and reservations (a slot) for members only, so strangers cannot
 * take the slots the members need. A device asks right after connecting, before its profile
 * arrived: the answer waits for it; a device known to be of another account is refused at once.
 */
export function relayGater (init: RelayPolicyInit): ConnectionGater {
  return {
    denyOutboundRelayedConnection: (source: PeerId, destination: PeerId) => !(init.isMember(source.toString()) && init.isMember(destination.toString())),
    denyInboundRelayReservation: async (source: PeerId) => {
      const id = source.toString()
      if (init.isMember(id)) return false
      if (init.isKnown(id)) return true
      return !(await init.memberSoon(id, RESERVATION_PROFILE_WAIT_MS))
    }
  }
}
