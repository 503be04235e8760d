import { circuitRelayTransport, type CircuitRelayTransportComponents, type CircuitRelayTransportInit } from '@libp2p/circuit-relay-v2'
import type { Logger, Peer, PeerId, PeerStore, Transport } from '@libp2p/interface'
import type { RandomWalk } from '@libp2p/interface-internal'

/** A member that refused us a slot (it did not know us yet) is asked again this often. */
export const RELAY_RETRY_DELAYS_MS = [2_000, 5_000, 10_000]

/** The part of the relay transport's reservation store that we drive. */
interface Reservations {
  hasReservation(peer: PeerId): boolean
  addRelay(peer: PeerId, type: 'discovered' | 'configured'): Promise<unknown>
}

export interface MemberRelaysInit {
  isMember(id: string): boolean
  /** Is `peer` connected to us directly (not through a relay)? */
  directlyConnected(peer: PeerId): boolean
  log: Logger
}

/**
 * The client side of relaying: a device takes its reservation (the slot that lets members
 * on other networks reach it through a device on both) on members only, because only
 * members relay for it. libp2p's relay transport would otherwise look for relays on every
 * device with the hop protocol and, while it had none, walk the DHT with random lookups
 * without end: on a LAN of twenty devices of different accounts, where no one grants anyone
 * a slot, those walks kept both cores busy (issue 17). Here the transport sees a world of
 * members: its topology skips strangers, its peer store lists members, its random walk
 * finds no one; and a device that becomes a member while connected is asked at once.
 */
export class MemberRelays {
  private readonly init: MemberRelaysInit
  private reservations?: Reservations
  private readonly tried = new Set<string>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()

  constructor (init: MemberRelaysInit) {
    this.init = init
  }

  /** The relay transport for createLibp2p's `transports`. */
  transport (init: CircuitRelayTransportInit = {}): (components: CircuitRelayTransportComponents) => Transport {
    const isMember = (peer: PeerId): boolean => this.init.isMember(peer.toString())
    const tried = this.tried
    const create = circuitRelayTransport({
      ...init,
      // the topology asks the filter before it offers a connected device as a relay
      discoveryFilter: {
        has: (peer) => !isMember(peer) || tried.has(peer.toString()),
        add: (peer) => { tried.add(peer.toString()) },
        remove: (peer) => { tried.delete(peer.toString()) }
      }
    })
    return (components) => {
      const transport = create(membersWorld(components, isMember))
      this.reservations = (transport as unknown as { reservationStore: Reservations }).reservationStore
      return transport
    }
  }

  /** A device showed its profile: if it is a member we are directly connected to, reserve a slot on it. */
  memberKnown (peer: PeerId, attempt = 0): void {
    const store = this.reservations
    if (store == null || !this.init.isMember(peer.toString()) || !this.init.directlyConnected(peer) || store.hasReservation(peer)) return
    store.addRelay(peer, 'discovered').catch((err: Error) => {
      // enough relays already: nothing to do; refused: the member may not know us yet
      if (err.name === 'HadEnoughRelaysError' || attempt >= RELAY_RETRY_DELAYS_MS.length) return
      this.init.log('reservation on %p failed, again in %d ms - %s', peer, RELAY_RETRY_DELAYS_MS[attempt], err.message)
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.memberKnown(peer, attempt + 1)
      }, RELAY_RETRY_DELAYS_MS[attempt])
      timer.unref()
      this.timers.add(timer)
    })
  }

  stop (): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.tried.clear()
  }
}

/** The node's components as the relay transport should see them: members only, no random walk. */
function membersWorld (components: CircuitRelayTransportComponents, isMember: (peer: PeerId) => boolean): CircuitRelayTransportComponents {
  const peerStore = components.peerStore
  const members: PeerStore = new Proxy(peerStore, {
    get (target, prop) {
      if (prop === 'all') {
        return async (query: Parameters<PeerStore['all']>[0] = {}) => await target.all({ ...query, filters: [...(query.filters ?? []), (peer: Peer) => isMember(peer.id)] })
      }
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const noWalk: RandomWalk = {
    // members are dialled by the device dialler; a random walk finds no one it would not
    async * walk () {}
  }
  return new Proxy(components, {
    get (target, prop) {
      if (prop === 'peerStore') return members
      if (prop === 'randomWalk') return noWalk
      return Reflect.get(target, prop) as unknown
    }
  })
}
