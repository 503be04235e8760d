import type { NetworkInterfaceInfo } from 'node:os'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { ipOf } from '../link/index.ts'

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

/** fe80::/10: an address that means something only with the interface it is used on. */
export function isLinkLocalV6 (ip: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(ip)
}

/** The port we listen on per family: from the listen addresses, else from an address in use. */
export function listenPorts (addrs: Multiaddr[]): { 4?: string, 6?: string } {
  const ports: { 4?: string, 6?: string } = {}
  for (const ma of addrs) {
    const family = ipOf(ma)?.family
    const port = ma.getComponents().find(c => c.name === 'tcp')?.value
    if (family != null && port != null && port !== '0') ports[family] ??= port
  }
  return ports
}

/**
 * The link-local addresses libp2p leaves out of a node's own (it cannot tell which link they
 * belong to): fe80::/10 with its interface as the zone, and 169.254/16. A cable between two
 * laptops with no router has nothing else.
 */
export function linkLocalAddresses (interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>, ports: { 4?: string, 6?: string }): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const [name, list] of Object.entries(interfaces)) {
    for (const addr of list ?? []) {
      if (addr.internal) continue
      if (addr.family === 'IPv4' && addr.address.startsWith('169.254.') && ports[4] != null) out.push(multiaddr(`/ip4/${addr.address}/tcp/${ports[4]}`))
      if (addr.family === 'IPv6' && isLinkLocalV6(addr.address) && ports[6] != null) out.push(multiaddr(`/ip6zone/${name}/ip6/${addr.address}/tcp/${ports[6]}`))
    }
  }
  return out
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
}

/**
 * Relaying is for the devices of one account: reservations (a slot) only for members, and
 * relayed connections only between two members of this device's account. Strangers get
 * nothing, so they cannot fill the slots (node/member-relays.ts is the client side: devices
 * ask members only).
 */
export function relayGater (init: RelayPolicyInit): ConnectionGater {
  const member = (peer: PeerId): boolean => init.isMember(peer.toString())
  return {
    denyOutboundRelayedConnection: (source: PeerId, destination: PeerId) => !(member(source) && member(destination)),
    denyInboundRelayReservation: (source: PeerId) => !member(source)
  }
}
