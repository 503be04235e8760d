import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerInfo, PeerRouting, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
import { serviceCapabilities } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { DIAL_TIMEOUT_MS, LOOKUP_TIMEOUT_MS, REDIAL_MAX_MS, REDIAL_MIN_MS } from './constants.ts'

/** Retries of a discovered device that could not be dialled yet. */
const DISCOVERED_RETRY_DELAYS_MS = [2_000, 5_000, 10_000]
/**
 * Two devices starting together discover each other at the same moment (each hears the
 * other's mDNS answer): the one with the lower id dials, the other waits this long and dials
 * only if no connection came. One handshake instead of two; with twenty devices starting
 * together on two cores, the duplicate handshakes were half of what timed out. Short, since a
 * device that starts alone is discovered by no one and waits this long for half of the others
 * (at 3 s, a restarted device met a new member too late in CI: identity.spec).
 */
export const DISCOVERY_YIELD_MS = 1_000
/**
 * A connection to a known device that lasts this long starts its redial backoff over; one
 * that ends sooner (a device that cuts this one off at once, as the account's devices do to
 * a removed one) counts as a failed attempt, so it is not redialled twice a second forever.
 */
export const STABLE_CONNECTION_MS = 10_000

/**
 * Of two connections to a device of another account (both dialled at once), the one the lower
 * id did not dial is closed; while it still carries streams (a pairing, a text to another
 * person's device, a lookup) it is looked at again this often, and closed once they end, so
 * that nothing under way on it is cut.
 */
export const DUPLICATE_RECHECK_MS = 2_000

/** A member that failed this many redials in a row is looked up (its DHT record) before the next. */
export const LOCATE_AFTER_FAILURES = 2

/** The dial failed for lack of time (the device answered, slowly), not for lack of a way to it. */
const timedOut = (err: Error): boolean => err.name === 'TimeoutError' || err.name === 'AbortError' || /timeout|aborted/i.test(err.message)

/** What the dialer needs to know of the account's devices. */
export interface KnownDevices {
  /** The account's other devices, to dial on start and to keep connected. */
  members(): string[]
  isMember(id: string): boolean
  /** Where a member was last seen (our own table: libp2p's peer store forgets after hours). */
  addressesOf(id: string): string[]
  /** Where a member is now, if anyone knows (its profile record in the DHT). */
  locate?(id: string, signal: AbortSignal): Promise<string[]>
}

/**
 * libp2p 3 has no autodialer. This is ours: a discovered device is dialled at once, every
 * member of the account is dialled on start, and a member that goes away is redialled with
 * backoff for as long as it is a member, from the addresses we keep of it and, when those
 * fail, from its DHT record. Which addresses may be dialled is the connection gater's business.
 */
export interface DeviceDialerComponents {
  peerId: PeerId
  peerStore: PeerStore
  peerRouting: PeerRouting
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface DeviceDialerInit {
  known?: KnownDevices
  /** Addresses to dial on start and keep connected (--bootstrap). */
  bootstrap?: Multiaddr[]
  /** @default DIAL_TIMEOUT_MS */
  dialTimeout?: number
  /** @default REDIAL_MIN_MS */
  redialMin?: number
  /** @default REDIAL_MAX_MS */
  redialMax?: number
  /** @default STABLE_CONNECTION_MS */
  stableConnection?: number
  /** @default DISCOVERY_YIELD_MS */
  discoveryYield?: number
}

export interface DeviceDialer {
  /** Dial an address now (a user-given bootstrap address) and keep it connected. */
  dialAddress(ma: Multiaddr): Promise<PeerId>
  /**
   * A device seen on the network again (an mDNS answer) while not connected: dialled as on
   * discovery. libp2p tells of a peer only once, when it is new to the peer store, so a device
   * met before whose connection ended was never dialled again from its sightings.
   */
  sighted(peer: PeerInfo): void
}

class DefaultDeviceDialer implements DeviceDialer, Startable {
  private readonly components: DeviceDialerComponents
  private readonly bootstrap: Multiaddr[]
  private readonly dialTimeout: number
  /** A DHT lookup of where a device is: no longer than a dial. */
  private readonly lookupTimeout: number
  private readonly redialMin: number
  private readonly redialMax: number
  private readonly stableConnection: number
  private readonly discoveryYield: number
  private readonly log: Logger
  private readonly dialing = new Set<string>()
  /** Per known device: the last redial delay, and the pending redial if any. */
  private readonly retries = new Map<string, { timer?: ReturnType<typeof setTimeout>, delay: number, failures: number }>()
  private readonly known?: KnownDevices
  private readonly connectedAt = new Map<string, number>()
  private readonly bootstrapTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly discoveredRetries = new Map<string, number>()
  /** Devices discovered with a lower id than ours: they dial; we dial only if they did not. */
  private readonly yielding = new Set<string>()
  /** Devices with a second connection that waits for its streams to end. */
  private readonly duplicates = new Map<string, ReturnType<typeof setTimeout>>()
  private running = false

  constructor (components: DeviceDialerComponents, init: DeviceDialerInit = {}) {
    this.components = components
    this.bootstrap = init.bootstrap ?? []
    this.known = init.known
    this.dialTimeout = init.dialTimeout ?? DIAL_TIMEOUT_MS
    this.lookupTimeout = Math.min(this.dialTimeout, LOOKUP_TIMEOUT_MS)
    this.redialMin = init.redialMin ?? REDIAL_MIN_MS
    this.redialMax = init.redialMax ?? REDIAL_MAX_MS
    this.stableConnection = init.stableConnection ?? STABLE_CONNECTION_MS
    this.discoveryYield = init.discoveryYield ?? DISCOVERY_YIELD_MS
    this.log = components.logger.forComponent('companion:dialer')
    this.onDiscovery = this.onDiscovery.bind(this)
    this.onConnect = this.onConnect.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onOpen = this.onOpen.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/device-dialer'
  readonly [serviceCapabilities]: string[] = ['@companion/device-dialer']

  start (): void {
    this.running = true
    this.components.events.addEventListener('peer:discovery', this.onDiscovery)
    this.components.events.addEventListener('peer:connect', this.onConnect)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.addEventListener('connection:open', this.onOpen)
  }

  /** After the transports listen: redial what we knew and the bootstrap addresses. */
  afterStart (): void {
    for (const ma of this.bootstrap) this.keepBootstrap(ma, this.redialMin)
    const members = this.known?.members() ?? []
    this.log('dialling %d members', members.length)
    for (const id of members) void this.dialMember(id)
  }

  /** Put a member's kept addresses back in the peer store (which may have dropped them), then dial. */
  private async dialMember (id: string): Promise<void> {
    try {
      const peerId = peerIdFromString(id)
      await this.learn(peerId, this.known?.addressesOf(id) ?? [])
      this.dial(peerId)
    } catch (err) {
      this.log.error('could not dial member %s - %e', id, err)
    }
  }

  private async learn (peerId: PeerId, addresses: string[]): Promise<void> {
    const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
    if (multiaddrs.length > 0) await this.components.peerStore.merge(peerId, { multiaddrs })
  }

  private isMember (peerId: PeerId): boolean {
    return this.known?.isMember(peerId.toString()) ?? false
  }

  stop (): void {
    this.running = false
    this.components.events.removeEventListener('peer:discovery', this.onDiscovery)
    this.components.events.removeEventListener('peer:connect', this.onConnect)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.removeEventListener('connection:open', this.onOpen)
    for (const { timer } of this.retries.values()) clearTimeout(timer)
    this.retries.clear()
    this.connectedAt.clear()
    for (const timer of this.bootstrapTimers) clearTimeout(timer)
    this.bootstrapTimers.clear()
    for (const timer of this.duplicates.values()) clearTimeout(timer)
    this.duplicates.clear()
  }

  async dialAddress (ma: Multiaddr): Promise<PeerId> {
    const conn = await this.components.connectionManager.openConnection(ma, { signal: AbortSignal.timeout(this.dialTimeout) })
    return conn.remotePeer
  }

  sighted (peer: PeerInfo): void {
    if (!this.running || this.isConnected(peer.id)) return
    // libp2p merges the sighting into the peer store too; the dial waits for the addresses
    void this.components.peerStore.merge(peer.id, { multiaddrs: peer.multiaddrs })
      .then(() => { this.discovered(peer.id) }, err => { this.log('could not keep the addresses of %p - %s', peer.id, (err as Error).message) })
  }

  private onDiscovery (evt: CustomEvent<PeerInfo>): void {
    this.discovered(evt.detail.id)
  }

  private discovered (peerId: PeerId): void {
    // the lower id dials; the higher gives it time to (members are dialled at once: they are ours)
    if (this.isMember(peerId) || this.components.peerId.toString() < peerId.toString()) {
      this.dial(peerId)
      return
    }
    const key = peerId.toString()
    if (this.yielding.has(key)) return
    this.yielding.add(key)
    const timer = setTimeout(() => {
      this.yielding.delete(key)
      this.dial(peerId)
    }, this.discoveryYield)
    timer.unref()
  }

  /**
   * Two devices that dial each other at once (the higher id's yield ran out during a slow
   * handshake at a busy start) end with two connections, each with its own encryption,
   * multiplexer and streams: twenty devices held 27–36 connections each for 19 neighbours.
   * With a device of another account one is kept, the one the lower id dialled (both sides
   * tell which from its direction), and the other closed. Not with members: the link manager
   * keeps a connection per path to them.
   */
  private onOpen (evt: CustomEvent<Connection>): void {
    this.closeDuplicates(evt.detail.remotePeer)
  }

  /** Close the connections to a device of another account that the lower id did not dial, once idle. */
  private closeDuplicates (remote: PeerId): void {
    const key = remote.toString()
    clearTimeout(this.duplicates.get(key))
    this.duplicates.delete(key)
    if (!this.running || this.isMember(remote)) return
    const weDialFirst = this.components.peerId.toString() < key
    const kept = (conn: Connection): boolean => (conn.direction === 'outbound') === weDialFirst
    const open = this.components.connectionManager.getConnections(remote).filter(conn => conn.status === 'open')
    if (!open.some(kept)) return
    const others = open.filter(conn => !kept(conn))
    for (const conn of others.filter(conn => conn.streams.length === 0)) {
      this.log('closing a second connection to %p (the one it dialled)', remote)
      void conn.close().catch(err => { conn.abort(err as Error) })
    }
    if (others.every(conn => conn.streams.length === 0)) return
    const timer = setTimeout(() => { this.closeDuplicates(remote) }, DUPLICATE_RECHECK_MS)
    timer.unref()
    this.duplicates.set(key, timer)
  }

  private onConnect (evt: CustomEvent<PeerId>): void {
    const key = evt.detail.toString()
    this.discoveredRetries.delete(key)
    this.connectedAt.set(key, Date.now())
    const retry = this.retries.get(key)
    if (retry == null) return
    clearTimeout(retry.timer)
    retry.timer = undefined
    retry.failures = 0
  }

  private onDisconnect (evt: CustomEvent<PeerId>): void {
    const peerId = evt.detail
    const key = peerId.toString()
    const since = this.connectedAt.get(key)
    this.connectedAt.delete(key)
    if (since != null && Date.now() - since >= this.stableConnection) this.retries.delete(key)
    if (this.isMember(peerId)) this.scheduleRedial(peerId)
  }

  private isConnected (peerId: PeerId): boolean {
    return this.components.connectionManager.getConnections(peerId).some(conn => conn.status === 'open')
  }

  /** One dial at a time per device; a failure of a known device schedules a retry. */
  private dial (peerId: PeerId): void {
    const key = peerId.toString()
    if (!this.running || peerId.equals(this.components.peerId) || this.dialing.has(key) || this.isConnected(peerId)) return
    this.dialing.add(key)
    this.components.connectionManager.openConnection(peerId, { signal: AbortSignal.timeout(this.dialTimeout) })
      .then(() => { this.log('connected to %p', peerId) })
      .catch(err => {
        this.log('dial %p failed - %s', peerId, err.message)
        if (this.isMember(peerId)) this.scheduleRedial(peerId, true)
        else this.retryDiscovered(peerId, timedOut(err as Error))
      })
      .finally(() => { this.dialing.delete(key) })
  }

  /**
   * A device we never met that could not be dialled: try a few more times, since a way to it
   * often appears seconds later (a relay reservation, a route, an address from the DHT).
   */
  private retryDiscovered (peerId: PeerId, busy: boolean): void {
    const key = peerId.toString()
    const attempt = this.discoveredRetries.get(key) ?? 0
    if (!this.running || attempt >= DISCOVERED_RETRY_DELAYS_MS.length) return
    this.discoveredRetries.set(key, attempt + 1)
    const timer = setTimeout(() => {
      // dial again at once: a device that answered too slowly is there, and one that reset
      // the connection (busy starting) usually is too; the lookup (up to LOOKUP_TIMEOUT_MS among
      // busy devices) is not waited for. One that could not be reached may be elsewhere: ask
      // the DHT, not the peer store that holds the failed addresses, and dial what it knows.
      // Not after a timeout: these lookups were most of the DHT's traffic at a busy start.
      this.dial(peerId)
      if (busy) return
      void this.components.peerRouting.findPeer(peerId, { useCache: false, signal: AbortSignal.timeout(this.lookupTimeout) })
        .then(() => { this.dial(peerId) }, () => undefined)
    }, DISCOVERED_RETRY_DELAYS_MS[attempt])
    timer.unref()
  }

  private scheduleRedial (peerId: PeerId, failed = false): void {
    const key = peerId.toString()
    if (!this.running || this.isConnected(peerId)) return
    const previous = this.retries.get(key)
    if (previous?.timer != null) return // one is on its way
    const failures = failed ? (previous?.failures ?? 0) + 1 : 0
    const retry = { delay: previous == null ? this.redialMin : Math.min(previous.delay * 2, this.redialMax), failures, timer: undefined as ReturnType<typeof setTimeout> | undefined }
    retry.timer = setTimeout(() => {
      retry.timer = undefined
      // where it was did not answer twice: maybe it moved (new address, another subnet)
      const moved = failures >= LOCATE_AFTER_FAILURES && this.known?.locate != null ? this.locate(peerId) : Promise.resolve()
      void moved.then(async () => { await this.dialMember(key) })
    }, retry.delay)
    retry.timer.unref()
    this.retries.set(key, retry)
  }

  private async locate (peerId: PeerId): Promise<void> {
    try {
      const addresses = await this.known?.locate?.(peerId.toString(), AbortSignal.timeout(this.lookupTimeout)) ?? []
      this.log('%p is at %d address(es) according to its DHT record', peerId, addresses.length)
      await this.learn(peerId, addresses)
    } catch (err) {
      this.log('could not locate %p in the DHT - %s', peerId, (err as Error).message)
    }
  }

  /** A bootstrap address is kept connected: retried with backoff whenever it is not. */
  private keepBootstrap (ma: Multiaddr, delay: number): void {
    if (!this.running) return
    const peerIdStr = ma.getComponents().find(c => c.name === 'p2p')?.value
    const connected = peerIdStr != null && this.components.connectionManager.getConnections()
      .some(conn => conn.remotePeer.toString() === peerIdStr && conn.status === 'open')
    const attempt = connected
      ? Promise.resolve(true)
      : this.dialAddress(ma).then(() => true, err => {
        this.log('bootstrap %a failed - %s', ma, err.message)
        return false
      })
    void attempt.then(ok => {
      const timer = setTimeout(() => {
        this.bootstrapTimers.delete(timer)
        this.keepBootstrap(ma, ok ? this.redialMin : Math.min(delay * 2, this.redialMax))
      }, ok ? this.redialMax : delay)
      timer.unref()
      this.bootstrapTimers.add(timer)
    })
  }
}

export function deviceDialer (init: DeviceDialerInit = {}): (components: DeviceDialerComponents) => DeviceDialer {
  return (components) => new DefaultDeviceDialer(components, init)
}
