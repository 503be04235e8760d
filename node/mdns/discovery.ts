import { randomBytes } from 'node:crypto'
import { peerDiscoverySymbol, serviceCapabilities, type ComponentLogger, type Logger, type PeerDiscovery, type PeerDiscoveryEvents, type PeerId, type Startable, type Libp2pEvents } from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'
import { isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { ipOf, localInterfaces } from '../../link/index.ts'
import { isLoopback, linkLocalAddresses, listenPorts } from '../address-policy.ts'
import { answerPacket, queryPacket, QUESTION, readPacket, type Sighting } from './packets.ts'
import { MdnsSockets, type Heard } from './sockets.ts'
import { QueryPacer } from './query-pacer.ts'

/** A device already connected is passed on again at most this often, unless its addresses change. */
export const MDNS_REPEAT_MS = 5 * 60_000
/** Devices remembered for that (a stranger can announce any number of identities): the oldest go first. */
export const MDNS_REMEMBERED = 1024
/**
 * Each interface is answered at most this often (a query in between is answered at the end of
 * it): twenty devices starting together ask twenty times, and a stranger could ask without end.
 */
export const MDNS_ANSWER_GAP_MS = 500

/** What was last passed on about a device. */
export interface Passed { addrs: string, at: number }

/**
 * Is an mDNS answer news worth passing on: a device we are not connected to, one whose
 * addresses changed, or one not passed on for MDNS_REPEAT_MS?
 */
export function isNews (last: Passed | undefined, addrs: string, connected: boolean, now: number): boolean {
  return !connected || last?.addrs !== addrs || now - last.at >= MDNS_REPEAT_MS
}

export interface MdnsComponents {
  peerId: PeerId
  addressManager: AddressManager
  connectionManager: ConnectionManager
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
}

/**
 * After the last connection to a device closes, ask at once (at most this often): identify
 * replaces a device's addresses with those it announces, which never include link-local ones,
 * so over a cable with no router only an mDNS answer can bring its address back.
 */
export const MDNS_QUERY_AFTER_DROP_GAP_MS = 1_000

export interface MdnsInit {
  serviceTag: string
  /** How often to ask when nothing changes. */
  intervalMs: number
}

/** Discovery that can be told the network changed (an address came or went). */
export interface MdnsDiscovery extends PeerDiscovery, Startable {
  networkChanged(): void
}

/**
 * mDNS over IPv4 (224.0.0.251) and IPv6 (ff02::fb, on every interface) in libp2p's packet
 * format. Beside libp2p's own discovery it answers with link-local addresses (fe80::/10, only
 * on their own link, where the receiver adds its interface as the zone; 169.254/16), which
 * libp2p leaves out of a node's addresses, so two devices joined by a cable with no router
 * find each other. It passes on only what is news: every answer on the LAN reaches every
 * device, so with twenty devices each hears 380 answers per round of queries, and each passed
 * on is a peer store write and a dial attempt.
 */
class CompanionMdns extends TypedEventEmitter<PeerDiscoveryEvents> implements MdnsDiscovery {
  private readonly components: MdnsComponents
  private readonly init: MdnsInit
  private readonly log: Logger
  /** Our instance name in answers: random per start, so our own answers are known as ours. */
  private readonly name = randomBytes(16).toString('hex')
  private readonly passed = new Map<string, Passed>()
  private readonly lastAnswer = new Map<string, number>()
  private readonly answerLater = new Map<string, ReturnType<typeof setTimeout>>()
  private sockets?: MdnsSockets
  private pacer?: QueryPacer
  private lastDropQuery = -Infinity

  constructor (components: MdnsComponents, init: MdnsInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:mdns')
  }

  readonly [peerDiscoverySymbol] = this
  readonly [Symbol.toStringTag] = 'companion/mdns'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  async start (): Promise<void> {
    if (this.sockets != null) return
    this.sockets = new MdnsSockets((heard) => { this.heard(heard) }, this.log)
    await this.sockets.open()
    this.pacer = new QueryPacer({
      intervalMs: this.init.intervalMs,
      send: () => { this.sendQuery() },
      families: () => ([4, 6] as const).filter(f => (this.sockets?.interfaces(f).length ?? 0) > 0)
    })
    this.pacer.start()
    this.query()
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
  }

  private readonly onDisconnect = (): void => {
    const now = Date.now()
    if (now - this.lastDropQuery < MDNS_QUERY_AFTER_DROP_GAP_MS) return
    this.lastDropQuery = now
    this.query()
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.pacer?.stop()
    for (const t of this.answerLater.values()) clearTimeout(t)
    this.answerLater.clear()
    this.sockets?.close()
    this.sockets = undefined
    this.passed.clear()
  }

  /** A network came or went: join the group where it is new, ask everywhere, tell what changed. */
  networkChanged (): void {
    if (this.sockets == null) return
    this.sockets.refresh()
    this.query()
    for (const family of [4, 6] as const) {
      for (const iface of this.sockets.interfaces(family)) this.answer(family, iface)
    }
  }

  /** Ask now (an event: start, a network change, a device gone); the periodic query waits again. */
  private query (): void {
    this.sendQuery()
    this.pacer?.sentOne()
  }

  private sendQuery (): void {
    this.sockets?.send(queryPacket(this.init.serviceTag))
  }

  private heard (heard: Heard): void {
    const read = readPacket(heard.bytes, this.init.serviceTag, this.name, heard.iface)
    if (read === QUESTION) {
      // its answers reach us too: our own periodic query can wait
      this.pacer?.heard(heard.family)
      // an IPv4 query's interface is not known: answer on every IPv4 interface
      const ifaces = heard.iface != null ? [heard.iface] : (this.sockets?.interfaces(heard.family) ?? [])
      for (const iface of ifaces) this.answer(heard.family, iface)
      return
    }
    // a device answers each family and interface with other addresses: each is news on its own
    if (read != null && !read.id.equals(this.components.peerId)) this.found(read, `${heard.family}/${heard.iface ?? ''}`)
  }

  /** Answer on one interface now, or at the end of its quiet gap (once, however many asked). */
  private answer (family: 4 | 6, iface: string): void {
    const key = `${family}/${iface}`
    if (this.answerLater.has(key)) return
    const wait = (this.lastAnswer.get(key) ?? -Infinity) + MDNS_ANSWER_GAP_MS - performance.now()
    if (wait > 0) {
      const t = setTimeout(() => { this.answerLater.delete(key); this.answer(family, iface) }, wait)
      t.unref()
      this.answerLater.set(key, t)
      return
    }
    const addrs = this.addressesFor(family, iface)
    if (addrs.length === 0) return
    this.lastAnswer.set(key, performance.now())
    this.sockets?.send(answerPacket(this.init.serviceTag, this.name, this.components.peerId, addrs), { family, iface })
  }

  /**
   * What we answer on one interface: link-local addresses first (an IPv6 one only on its own
   * interface, without the zone: the receiver adds its own), then the private IPv4 and every
   * IPv6 address libp2p announces.
   */
  private addressesFor (family: 4 | 6, iface: string): Multiaddr[] {
    const { addressManager } = this.components
    const announced = addressManager.getAddresses()
      .map(ma => ma.decapsulateCode(421))
      .filter(ma => {
        const addr = ipOf(ma)
        // global IPv6 too: an IPv6-only home network has global addresses and fe80:: only
        return addr != null && addr.zone == null && (isPrivate(ma) || addr.family === 6) && !isLoopback(ma) && ma.getComponents().some(c => c.name === 'tcp')
      })
    const linkLocal = linkLocalAddresses(localInterfaces(), listenPorts([...addressManager.getListenAddrs(), ...announced]))
      .flatMap(ma => {
        const addr = ipOf(ma)
        if (addr?.zone == null) return [ma]
        return family === 6 && addr.zone === iface ? [unzoned(ma)] : []
      })
    const seen = new Set<string>()
    return [...linkLocal, ...announced].filter(ma => !seen.has(ma.toString()) && seen.add(ma.toString()) != null)
  }

  private found ({ id, multiaddrs }: Sighting, via: string): void {
    const key = `${id.toString()}/${via}`
    const addrs = multiaddrs.map(ma => ma.toString()).sort().join(' ')
    const connected = this.components.connectionManager.getConnections(id).length > 0
    if (!isNews(this.passed.get(key), addrs, connected, Date.now())) return
    this.passed.delete(key)
    this.passed.set(key, { addrs, at: Date.now() })
    if (this.passed.size > MDNS_REMEMBERED) this.passed.delete(this.passed.keys().next().value as string)
    this.log('found %p at %s', id, addrs)
    this.safeDispatchEvent('peer', { detail: { id, multiaddrs } })
  }
}

/** `/ip6zone/eth0/ip6/fe80::1/tcp/4001` → `/ip6/fe80::1/tcp/4001`. */
function unzoned (ma: Multiaddr): Multiaddr {
  return multiaddr(ma.getComponents().slice(1))
}

export function companionMdns (init: MdnsInit): (components: MdnsComponents) => MdnsDiscovery {
  return (components) => new CompanionMdns(components, init)
}
