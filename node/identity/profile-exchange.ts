import { TypedEventEmitter } from 'main-event'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { MAX_CHAIN_BYTES, PROFILE_FALLBACK_MS, PROFILE_PROTOCOL, PROFILE_RETRY_DELAYS_MS, PROFILE_TIMEOUT_MS } from './constants.ts'
import { AccountChangedError, InvalidRecordError, RemovedDeviceError, ReplayedRecordError } from './errors.ts'
import type { AccountStore } from './account.ts'
import type { OwnProfile } from './own-profile.ts'
import type { ProfileBook } from './profile-book.ts'
import type { OtherRelation } from './relation.ts'
import type { DeviceProfile, OpenedCertificate } from './records.ts'

export interface ProfileExchangeComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface ProfileExchangeInit {
  book: ProfileBook
  own: OwnProfile
  account: AccountStore
  /** @default PROFILE_TIMEOUT_MS */
  timeout?: number
  /** @default PROFILE_FALLBACK_MS */
  fallback?: number
}

export interface ProfileExchangeEvents {
  /** A device's profile was accepted (new, or newer than the one held). */
  'device:profile': CustomEvent<{ peerId: PeerId, profile: DeviceProfile, relation: OtherRelation }>
  /** A member's epoch chain removes this device from the account (it was removed while away, or is told now). */
  'account:removed': CustomEvent<{ by: PeerId }>
  /** A member was away while the account moved to a new epoch: it is to be handed the new one. */
  'account:behind': CustomEvent<{ connection: Connection }>
}

export interface ProfileExchange extends TypedEventEmitter<ProfileExchangeEvents> {
  /** Exchange profiles (and epoch chains) again with every connected device. */
  announce(): Promise<void>
}

/** What lpStream throws for a malformed or oversized length prefix. */
const LENGTH_PREFIX_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'])
const EMPTY = new Uint8Array(0)

/** The other device sent something we refuse (a replay, garbage): asking again changes nothing. */
const refused = (err: Error): boolean => err instanceof ReplayedRecordError || err instanceof InvalidRecordError || LENGTH_PREFIX_ERRORS.has(err.name)

/**
 * `/companion/profile/2.0.0`: on every connection, and whenever something changes, both
 * devices show their certificate, then their profile (the full one to members, the public one
 * to others) and, to devices of the same account (members, members that were away, removed
 * devices), the account's epoch chain:
 *
 *   dialler → cert
 *   other   → cert, profile, chain | empty
 *   dialler → profile, chain | empty
 */
class DefaultProfileExchange extends TypedEventEmitter<ProfileExchangeEvents> implements ProfileExchange, Startable {
  private readonly components: ProfileExchangeComponents
  private readonly book: ProfileBook
  private readonly own: OwnProfile
  private readonly account: AccountStore
  private readonly timeout: number
  private readonly fallback: number
  private readonly log: Logger

  constructor (components: ProfileExchangeComponents, init: ProfileExchangeInit) {
    super()
    this.components = components
    this.book = init.book
    this.own = init.own
    this.account = init.account
    this.timeout = init.timeout ?? PROFILE_TIMEOUT_MS
    this.fallback = init.fallback ?? PROFILE_FALLBACK_MS
    this.log = components.logger.forComponent('companion:profile')
    this.onIdentify = this.onIdentify.bind(this)
    this.onOpen = this.onOpen.bind(this)
    this.handle = this.handle.bind(this)
  }

  /** Connections whose exchange completed (either side): no retry, no fallback. */
  private readonly done = new WeakSet<Connection>()
  /** Exchanges under way per connection (asking or answering), and when they will all have ended. */
  private readonly underway = new WeakMap<Connection, { count: number, ended: Promise<unknown> }>()
  /** The one exchange per connection asked for while others were under way: it runs after them. */
  private readonly queued = new WeakMap<Connection, Promise<void>>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()

  readonly [Symbol.toStringTag] = 'companion/profile-exchange'
  readonly [serviceCapabilities]: string[] = ['@companion/profiles']
  readonly [serviceDependencies]: string[] = ['@libp2p/identify']

  async start (): Promise<void> {
    await this.components.registrar.handle(PROFILE_PROTOCOL, this.handle, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('connection:open', this.onOpen)
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('connection:open', this.onOpen)
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    await this.components.registrar.unhandle(PROFILE_PROTOCOL)
  }

  async announce (): Promise<void> {
    await Promise.allSettled(this.components.connectionManager.getConnections()
      .filter(conn => conn.status === 'open')
      .map(async conn => { await this.exchange(conn) }))
  }

  private onIdentify (evt: CustomEvent<{ connection: Connection, protocols: string[] }>): void {
    const { connection, protocols } = evt.detail
    if (connection.direction !== 'outbound' || !protocols.includes(PROFILE_PROTOCOL)) return
    void this.exchange(connection)
  }

  /**
   * identify starts the exchange on the dialling side; when identify fails, or the dialling
   * side got what it wanted while we timed out (daemons busy starting, many devices connecting
   * at once: measured with twenty), the device would stay connected but unknown for good:
   * either side asks, once the usual exchange had its time.
   */
  private onOpen (evt: CustomEvent<Connection>): void {
    this.later(this.fallback, evt.detail, 0)
  }

  /** A timeout or a reset (not garbage, not a replay) while the connection stays: ask again, a few times. */
  private retry (connection: Connection, err: Error, attempt: number): void {
    const delay = PROFILE_RETRY_DELAYS_MS[attempt]
    if (delay != null && connection.status === 'open' && !refused(err)) this.later(delay, connection, attempt + 1)
  }

  private later (ms: number, connection: Connection, attempt: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // one under way (or queued) ends in its own retry if it fails: another is load for nothing
      if (connection.status === 'open' && !this.done.has(connection) && !this.busy(connection) && !this.queued.has(connection)) void this.exchange(connection, attempt)
    }, ms)
    timer.unref()
    this.timers.add(timer)
  }

  /**
   * Our profile variant and chain for a device whose certificate we have just read. A device of
   * our account that is not a member now (removed, or away while the account moved on) gets the
   * public profile and the chain: that is how it learns it was removed, or that it is behind.
   */
  private async ours (cert: OpenedCertificate, shown: string): Promise<[Uint8Array, Uint8Array]> {
    const { full, public: pub, profile } = await this.own.envelopes()
    // this device joined or left an account since it showed its certificate: a profile of the
    // new account beside the old certificate would be refused as invalid; the exchange after
    // the change shows both anew
    if (profile.account !== shown) throw new AccountChangedError('this device changed accounts during the exchange')
    // `shown`: the account of the certificate this exchange sent. Joining an account while an
    // exchange runs (pairing, with identify pushes asking for exchanges) would pair the old
    // certificate with the new account's chain, which the other side rightly takes for a
    // violation and cuts the connection, pairing stream and all: no chain then; the
    // announcement after joining shows both anew.
    const chain = cert.account === shown && shown === this.account.id ? this.account.chainRecord : EMPTY
    return [this.book.isMemberCert(cert) ? full : pub, chain]
  }

  private busy (connection: Connection): boolean {
    return (this.underway.get(connection)?.count ?? 0) > 0
  }

  /** Count `run` as an exchange under way on `connection` while it runs. */
  private async counted (connection: Connection, run: () => Promise<void>): Promise<void> {
    const state = this.underway.get(connection) ?? { count: 0, ended: Promise.resolve() }
    this.underway.set(connection, state)
    state.count++
    const running = run()
    state.ended = Promise.allSettled([state.ended, running])
    try {
      await running
    } finally {
      state.count--
    }
  }

  /**
   * Ask on `connection`, or, while an exchange runs there, once after it (resolving when that
   * one has): each identify push and each change asks, and at a busy start the same two
   * devices had four exchanges at once, each timing the others out.
   */
  private async exchange (connection: Connection, attempt = 0): Promise<void> {
    const state = this.underway.get(connection)
    if (state != null && state.count > 0) {
      let next = this.queued.get(connection)
      if (next == null) {
        next = state.ended.then(async () => {
          this.queued.delete(connection)
          if (connection.status === 'open') await this.exchange(connection, attempt)
        })
        this.queued.set(connection, next)
      }
      await next
      return
    }
    await this.counted(connection, async () => { await this.ask(connection, attempt) })
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    await this.counted(connection, async () => { await this.answer(stream, connection) })
  }

  private async ask (connection: Connection, attempt: number): Promise<void> {
    const signal = AbortSignal.timeout(this.timeout)
    const peer = connection.remotePeer.toString()
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(PROFILE_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_CHAIN_BYTES })
      const shown = this.account.id
      await lp.write(this.account.certificate, { signal })
      const cert = (await lp.read({ signal })).subarray()
      const profile = (await lp.read({ signal })).subarray()
      const chain = (await lp.read({ signal })).subarray()
      const certificate = await this.book.verifyCertificate(peer, cert)
      await lp.writeV(await this.ours(certificate, shown), { signal })
      await stream.close({ signal })
      await this.take(connection, certificate, cert, profile, chain, shown)
    } catch (err) {
      this.onFailure(connection, stream, err as Error, 'asking')
      this.retry(connection, err as Error, attempt)
    }
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeout)
    const peer = connection.remotePeer.toString()
    try {
      const lp: LengthPrefixedStream = lpStream(stream, { maxDataLength: MAX_CHAIN_BYTES })
      const cert = (await lp.read({ signal })).subarray()
      const certificate = await this.book.verifyCertificate(peer, cert)
      const shown = this.account.id
      const own = this.account.certificate
      await lp.writeV([own, ...await this.ours(certificate, shown)], { signal })
      const profile = (await lp.read({ signal })).subarray()
      const chain = (await lp.read({ signal })).subarray()
      await stream.close({ signal })
      await this.take(connection, certificate, cert, profile, chain, shown)
    } catch (err) {
      this.onFailure(connection, stream, err as Error, 'answering')
      // the asking side may have what it wanted and not ask again: we ask
      this.retry(connection, err as Error, 0)
    }
  }

  /** Accept what a device sent (its certificate verified by the caller): its chain (from our account), then its records. */
  private async take (connection: Connection, certificate: OpenedCertificate, cert: Uint8Array, profile: Uint8Array, chain: Uint8Array, shown: string): Promise<void> {
    const peer = connection.remotePeer.toString()
    // we joined or left an account during the exchange: what the other device sent answered
    // the certificate we showed, not the one we hold; the announcement that follows redoes it
    if (shown !== this.account.id) return
    const ours = certificate.account === this.account.id
    if (!ours && chain.byteLength > 0) throw new InvalidRecordError('an epoch chain from a device outside the account')
    // the chain first: it stands on its own signatures, whatever the profile turns out to be
    if (ours && chain.byteLength > 0) this.follow(connection, certificate, await this.account.compare(chain))
    const verdict = await this.book.accept(peer, cert, profile)
    this.done.add(connection)
    const known = this.book.get(peer)
    if (known == null) return
    const relation = this.book.relation(peer)
    if (verdict === 'accepted') {
      this.log('device %p is %s (%s, %s)', connection.remotePeer, known.profile.name, known.profile.kind, relation)
      this.safeDispatchEvent('device:profile', { detail: { peerId: connection.remotePeer, profile: known.profile, relation } })
    }
  }

  private follow (connection: Connection, certificate: OpenedCertificate, { verdict, chain }: Awaited<ReturnType<AccountStore['compare']>>): void {
    switch (verdict) {
      case 'removes-us':
        this.log('device %p shows epoch %d of the account, which removes this device', connection.remotePeer, chain.epoch)
        this.safeDispatchEvent('account:removed', { detail: { by: connection.remotePeer } })
        break
      case 'behind':
        if (this.account.awaitsEpoch(certificate)) this.safeDispatchEvent('account:behind', { detail: { connection } })
        break
      case 'unlisted':
        this.log.error('device %p shows epoch %d of the account, made by a device that did not know this one: pair this device again', connection.remotePeer, chain.epoch)
        break
      case 'fork':
        // signed by a key of ours, but not the epoch we follow: first seen wins
        this.log.error('device %p shows another branch of the account at epoch %d; refused', connection.remotePeer, chain.epoch)
        break
      default:
        // the same, or ahead: the device that is ahead hands us the new epoch
    }
  }

  /** Garbage or forgeries cut the connection; a replay or a timeout is only logged. */
  private onFailure (connection: Connection, stream: Stream | undefined, err: Error, role: 'asking' | 'answering'): void {
    stream?.abort(err)
    if (err instanceof AccountChangedError) {
      this.log('profile exchange with %p dropped - %s', connection.remotePeer, err.message)
    } else if (err instanceof RemovedDeviceError) {
      // a device we removed, still talking as a member until it learns: cut, but not an error
      this.log('device %p was removed from the account, disconnecting', connection.remotePeer)
      void connection.close().catch(() => { connection.abort(err) })
    } else if (err instanceof ReplayedRecordError) {
      this.log.error('refused a replayed profile from %p - %s', connection.remotePeer, err.message)
    } else if (err instanceof InvalidRecordError || LENGTH_PREFIX_ERRORS.has(err.name)) {
      this.log.error('device %p sent an invalid record, disconnecting - %s', connection.remotePeer, err.message)
      void connection.close().catch(() => { connection.abort(err) })
    } else {
      this.log('profile exchange with %p failed (%s, %s connection) - %s', connection.remotePeer, role, connection.direction, err.message)
    }
  }
}

export function profileExchange (init: ProfileExchangeInit): (components: ProfileExchangeComponents) => ProfileExchange {
  return (components) => new DefaultProfileExchange(components, init)
}
