import type { Connection } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import type { AccountStore } from './account.ts'
import type { ProfileBook } from './profile-book.ts'

export interface MembershipInit {
  account: AccountStore
  book: ProfileBook
  /** The node's open connections. */
  connections(): Connection[]
  /** Hand a member the account's newest epoch (/companion/epoch). */
  offerEpoch(connection: Connection): Promise<void>
  /** This device changed: re-sign its profile, tell every device, republish. */
  changed(): Promise<void>
  /** A device is no member any more: drop what this device keeps for it (its tunnel session). */
  forgotten?(device: string): void
}

export interface MembershipEvents {
  /** Devices the account removed (here, or in an epoch a member handed us). */
  'devices:removed': CustomEvent<string[]>
  /** This device left its account, or was removed from it: an account of one now. */
  'account:left': CustomEvent<void>
}

/**
 * Who leaves the account and how, written once: removing a member (a new epoch without it),
 * this device leaving, being told it was removed, and taking an epoch someone else made.
 */
export class Membership extends TypedEventEmitter<MembershipEvents> {
  private readonly init: MembershipInit

  constructor (init: MembershipInit) {
    super()
    this.init = init
  }

  /** Remove a member for every device: a new account epoch whose key only the others get. */
  async remove (device: string): Promise<void> {
    const { account, book } = this.init
    await account.rotate([device], book.members().map(d => d.id))
    await this.epochChanged([device])
  }

  /**
   * This device leaves: it hands the members it can reach an epoch without itself (with none
   * reachable, they go on listing it until one of them removes it), then starts over.
   */
  async leave (self: string): Promise<void> {
    const { account, book } = this.init
    const members = book.members().map(d => d.id)
    const reachable = this.init.connections().filter(c => members.includes(c.remotePeer.toString()))
    if (reachable.length > 0) {
      await account.rotate([self], members)
      await Promise.all(reachable.map(async conn => { await this.init.offerEpoch(conn) }))
    }
    await this.startOver()
  }

  /** Told by a member that this device was removed (or leaving): an account of one again. */
  async startOver (): Promise<void> {
    await this.init.account.becomeAccountOfOne()
    await this.init.changed()
    this.safeDispatchEvent('account:left')
  }

  /**
   * The account moved to a new epoch here (a removal, or one handed to us): the new
   * certificate and chain go to every device (a removed one still connected learns it was
   * removed, members are handed the new epoch), the DHT records move to the new secrets; then
   * the removed devices are cut off, everywhere they are connected, and forgotten.
   */
  async epochChanged (removed: string[]): Promise<void> {
    await this.init.changed()
    for (const id of removed) {
      for (const conn of this.init.connections().filter(c => c.remotePeer.toString() === id)) void conn.close().catch(() => {})
      await this.init.book.forget(id)
      this.init.forgotten?.(id)
    }
    if (removed.length > 0) this.safeDispatchEvent('devices:removed', { detail: removed })
  }
}
