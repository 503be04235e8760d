import { mdns, type MulticastDNSComponents, type MulticastDNSInit } from '@libp2p/mdns'
import { peerDiscoverySymbol, serviceCapabilities, type PeerDiscovery, type PeerDiscoveryEvents, type PeerInfo, type Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import { TypedEventEmitter } from 'main-event'

/** A device already connected is passed on again at most this often, unless its addresses change. */
export const MDNS_REPEAT_MS = 5 * 60_000
/** Devices remembered for that (a stranger can announce any number of identities): the oldest go first. */
export const MDNS_REMEMBERED = 1024

/** What was last passed on about a device. */
export interface Passed { addrs: string, at: number }

/**
 * Is an mDNS answer news worth passing on: a device we are not connected to, one whose
 * addresses changed, or one not passed on for MDNS_REPEAT_MS?
 */
export function isNews (last: Passed | undefined, addrs: string, connected: boolean, now: number): boolean {
  return !connected || last?.addrs !== addrs || now - last.at >= MDNS_REPEAT_MS
}

export interface QuietMdnsComponents extends MulticastDNSComponents {
  connectionManager: ConnectionManager
}

/**
 * mDNS discovery that passes on only what is news: a device we are not connected to, or one
 * whose addresses changed. Every answer on the LAN reaches every device (answers are
 * multicast), so with twenty devices each one hears 380 answers per round of queries; passed
 * on as they come, each is a peer store write and a dial attempt, and the daemons spend
 * their CPU on that instead of on handshakes (measured: 20 daemons saturated two cores for
 * over a minute and most pairs never connected).
 */
class QuietMdns extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  private readonly inner: PeerDiscovery & Startable
  private readonly components: QuietMdnsComponents
  /** What was last passed on per device: its addresses and when. */
  private readonly passed = new Map<string, Passed>()

  constructor (components: QuietMdnsComponents, init: MulticastDNSInit) {
    super()
    this.components = components
    this.inner = mdns(init)(components) as PeerDiscovery & Startable
    this.onPeer = this.onPeer.bind(this)
  }

  readonly [peerDiscoverySymbol] = this
  readonly [Symbol.toStringTag] = 'companion/mdns'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  async start (): Promise<void> {
    this.inner.addEventListener('peer', this.onPeer)
    await this.inner.start()
  }

  async stop (): Promise<void> {
    this.inner.removeEventListener('peer', this.onPeer)
    await this.inner.stop()
    this.passed.clear()
  }

  private onPeer (evt: CustomEvent<PeerInfo>): void {
    const peer = evt.detail
    const key = peer.id.toString()
    const addrs = peer.multiaddrs.map(ma => ma.toString()).sort().join(' ')
    const connected = this.components.connectionManager.getConnections(peer.id).length > 0
    if (!isNews(this.passed.get(key), addrs, connected, Date.now())) return
    this.passed.delete(key)
    this.passed.set(key, { addrs, at: Date.now() })
    if (this.passed.size > MDNS_REMEMBERED) this.passed.delete(this.passed.keys().next().value as string)
    this.safeDispatchEvent('peer', { detail: peer })
  }
}

export function quietMdns (init: MulticastDNSInit = {}): (components: QuietMdnsComponents) => PeerDiscovery & Startable {
  return (components) => new QuietMdns(components, init)
}
