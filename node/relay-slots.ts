import type { Libp2p, PeerId } from '@libp2p/interface'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { ProfileExchange } from './identity/profile-exchange.ts'
import type { ProfileBook } from './identity/profile-book.ts'

/**
 * Relay slots go to the account's members. A device asks for one right after connecting,
 * usually before its profile arrived, so an unknown device gets a slot for the time being:
 * it is taken back as soon as the device shows another account or disconnects without being
 * a member, and a member that finds every slot taken gets one of a stranger's.
 */
export class RelaySlots {
  private readonly relay: CircuitRelayService
  private readonly book: ProfileBook
  private readonly max: number

  constructor (init: { libp2p: Libp2p<{ relay: CircuitRelayService, profiles: ProfileExchange }>, book: ProfileBook, max: number }) {
    this.relay = init.libp2p.services.relay
    this.book = init.book
    this.max = init.max
    init.libp2p.addEventListener('peer:disconnect', (evt) => { this.takeBackFrom(evt.detail) })
    init.libp2p.services.profiles.addEventListener('device:profile', (evt) => { this.takeBackFrom(evt.detail.peerId) })
  }

  /** A member asks: if strangers hold every slot, one of theirs gives way. */
  makeRoom (device: string): void {
    const slots = this.relay.reservations
    if (slots.size < this.max) return
    for (const peer of slots.keys()) {
      if (peer.toString() !== device && !this.isMember(peer)) {
        slots.delete(peer)
        return
      }
    }
  }

  private takeBackFrom (peer: PeerId): void {
    if (!this.isMember(peer)) this.relay.reservations.delete(peer)
  }

  private isMember (peer: PeerId): boolean {
    return this.book.relation(peer.toString()) === 'member'
  }
}
