import { TypedEventEmitter } from 'main-event'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { serviceCapabilities } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { MAX_PAIR_TIMEOUT_MS, MAX_PENDING_PAIR_REQUESTS, PAIR_MAX_FAILURES, PAIR_PROTOCOL, PAIR_SID_BYTES, PAIR_TIMEOUT_MS } from './constants.ts'
import { PairingError } from './errors.ts'
import { CPACE_SHARE_BYTES, CpaceSession, pairingChannel, type CpaceKeys } from './cpace.ts'
import { isCode, newPairingCode } from './pairing-code.ts'
import { PairingBudget } from './pairing-budget.ts'
import { b64, MAX_PAIR_FRAME_BYTES, openGift, receive, sealGift, send, sessionIdPart, unb64 } from './pairing-messages.ts'
import type { AccountStore } from './account.ts'
import type { ProfileBook } from './profile-book.ts'

/** How long each protocol step (not the user's decision) may take. */
const STEP_TIMEOUT_MS = 10_000
/** HMAC-SHA256 key confirmation tags. */
const CONFIRM_BYTES = 32

export interface PairRequest {
  id: string
  name: string
  kind: string
  expiresAt: number
}

export interface PairingComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface PairingInit {
  account: AccountStore
  book: ProfileBook
  /** Called once this device has joined another account (re-sign and re-announce the profile). */
  onJoined(): Promise<void>
  /** Called once a device joined our account through us. */
  onAccepted(deviceId: string): Promise<void>
}

export interface PairingEvents {
  'pair:request': CustomEvent<PairRequest>
  'pair:ended': CustomEvent<{ id: string, paired: boolean, reason?: string }>
}

export interface Pairing extends TypedEventEmitter<PairingEvents> {
  /** Joining device: pair with `peer`; `onCode` gets the code to show; resolves once a member. */
  join(peer: PeerId, options: { timeoutMs?: number, signal?: AbortSignal, onCode(code: string): void }): Promise<{ account: string }>
  /** Member device: requests waiting for the user. */
  requests(): PairRequest[]
  /** Member device: the user typed the code shown on the joining device. */
  accept(id: string, code: string): Promise<void>
  /** Member device: refuse a waiting request. */
  reject(id: string): void
}

type Decision = { accept: true, code: string } | { accept: false, reason: string }

interface Pending extends PairRequest {
  decide: PromiseWithResolvers<Decision>
  finished: Promise<void>
}

/** Both device ids' multihash bytes, joiner first: what CPace binds the session to. */
const channelOf = (joiner: PeerId, member: PeerId): Uint8Array => pairingChannel(joiner.toMultihash().bytes, member.toMultihash().bytes)

class DefaultPairing extends TypedEventEmitter<PairingEvents> implements Pairing, Startable {
  private readonly components: PairingComponents
  private readonly init: PairingInit
  private readonly log: Logger
  private readonly pending = new Map<string, Pending>()
  private readonly budget = new PairingBudget()

  constructor (components: PairingComponents, init: PairingInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:pairing')
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/pairing'
  readonly [serviceCapabilities]: string[] = ['@companion/pairing']

  async start (): Promise<void> {
    await this.components.registrar.handle(PAIR_PROTOCOL, this.handle, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(PAIR_PROTOCOL)
    for (const p of this.pending.values()) p.decide.resolve({ accept: false, reason: 'the other device is shutting down' })
  }

  requests (): PairRequest[] {
    return [...this.pending.values()].map(({ id, name, kind, expiresAt }) => ({ id, name, kind, expiresAt }))
  }

  async join (peer: PeerId, options: { timeoutMs?: number, signal?: AbortSignal, onCode(code: string): void }): Promise<{ account: string }> {
    const timeoutMs = Math.min(options.timeoutMs ?? PAIR_TIMEOUT_MS, MAX_PAIR_TIMEOUT_MS)
    if (this.init.book.relation(peer.toString()) === 'member') throw new PairingError('already a member of this account: the two devices are paired')
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs + 2 * STEP_TIMEOUT_MS), ...(options.signal == null ? [] : [options.signal])])
    const stream = await (await this.components.connectionManager.openConnection(peer, { signal })).newStream(PAIR_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
    try {
      const ourSid = sessionIdPart()
      await send(lp, { t: 'hello', timeoutMs, sid: b64(ourSid) }, signal)
      const first = await receive(lp, signal, 'wait', 'refuse')
      if (first.t === 'refuse') throw new PairingError(first.reason)
      const sid = new Uint8Array([...ourSid, ...unb64(first.sid, 'sid', PAIR_SID_BYTES)])
      const code = newPairingCode()
      options.onCode(code)
      const session = new CpaceSession({ password: new TextEncoder().encode(code), channel: channelOf(this.peerId(), peer), sid, initiator: false })
      const theirs = await receive(lp, signal, 'share', 'reject')
      if (theirs.t === 'reject') throw new PairingError(theirs.reason)
      const keys = session.finish(unb64(theirs.y, 'share', CPACE_SHARE_BYTES))
      await send(lp, { t: 'share', y: b64(session.share), confirm: b64(keys.ownConfirmation) }, signal)
      const answer = await receive(lp, signal, 'accept', 'reject')
      if (answer.t === 'reject') throw new PairingError(answer.reason)
      if (!keys.confirms(unb64(answer.confirm, 'confirm', CONFIRM_BYTES))) {
        // a device that skipped the code (a stranger named like the member) cannot prove it
        const reason = 'the other device does not know the code: it is not the device the code was typed on; nothing changed'
        await send(lp, { t: 'error', reason }, signal).catch(() => {})
        throw new PairingError(reason)
      }
      try {
        await this.init.account.adopt(openGift(keys.sessionKey, unb64(answer.gift, 'gift')))
      } catch (err) {
        await send(lp, { t: 'error', reason: (err as Error).message }, signal).catch(() => {})
        throw new PairingError(`could not join: ${(err as Error).message}`)
      }
      // joined from here (this device holds the account's key and its certificate): a stream
      // cut now only means the member learns it from this device's new certificate instead
      await send(lp, { t: 'done' }, signal).catch((err: Error) => { this.log('the member did not get "done" - %s', err.message) })
      await stream.close({ signal }).catch(() => {})
      // the member closes its end once it has read 'done': wait for that before onJoined
      // closes every connection, which under load cut 'done' off (the member then failed a
      // pairing this device had joined by; seen once in CI)
      await lp.read({ signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }).catch(() => {})
      this.log('joined account %s', this.init.account.id)
      await this.init.onJoined()
      return { account: this.init.account.id }
    } catch (err) {
      stream.abort(err as Error)
      if (options.signal?.aborted === true) throw new PairingError('pairing cancelled')
      if (signal.aborted) throw new PairingError(`pairing timed out after ${Math.round(timeoutMs / 1000)} s: the code was not confirmed on the other device`)
      if (err instanceof PairingError) throw err
      throw new PairingError(`pairing failed: ${(err as Error).message}`)
    }
  }

  private peerId (): PeerId {
    return peerIdFromString(this.init.account.certificateDevice)
  }

  async accept (id: string, code: string): Promise<void> {
    const request = this.pending.get(id)
    if (request == null) throw new PairingError('no pairing request from that device is waiting; start `companion pair` on it first')
    if (!isCode(code)) throw new PairingError('the code is the 6 digits the joining device shows')
    request.decide.resolve({ accept: true, code })
    await request.finished
  }

  /** Does `id` show a certificate of this account within STEP_TIMEOUT_MS (its profile, on any connection)? */
  private async shows (id: string): Promise<boolean> {
    const deadline = Date.now() + STEP_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (this.init.book.relation(id) === 'member') return true
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return false
  }

  reject (id: string): void {
    const request = this.pending.get(id)
    if (request == null) throw new PairingError('no pairing request from that device is waiting')
    request.decide.resolve({ accept: false, reason: 'pairing refused on the other device' })
  }

  private refusal (id: string): string | undefined {
    if (this.init.book.relation(id) === 'member') return 'already a member of this account: the two devices are paired'
    if (this.init.account.isRevoked(id)) return 'this device was removed from the account; reset its data directory to pair it again'
    const budget = this.budget.refusal(id)
    if (budget != null) return budget
    if (this.pending.has(id)) return 'a pairing request from this device is already waiting'
    if (this.pending.size >= MAX_PENDING_PAIR_REQUESTS) return `${MAX_PENDING_PAIR_REQUESTS} pairing requests are already waiting on this device; accept or reject them first`
    return undefined
  }

  /** Member side: one request, from hello to the user's decision. */
  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const id = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
    const step = AbortSignal.timeout(STEP_TIMEOUT_MS)
    try {
      const hello = await receive(lp, step, 'hello')
      const theirSid = unb64(hello.sid, 'sid', PAIR_SID_BYTES)
      const timeoutMs = Number.isSafeInteger(hello.timeoutMs) ? Math.min(Math.max(hello.timeoutMs, 1_000), MAX_PAIR_TIMEOUT_MS) : PAIR_TIMEOUT_MS
      const refusal = this.refusal(id)
      if (refusal != null) {
        await send(lp, { t: 'refuse', reason: refusal }, step)
        await stream.close({ signal: step })
        return
      }
      const ourSid = sessionIdPart()
      await send(lp, { t: 'wait', sid: b64(ourSid) }, step)
      await this.await(connection.remotePeer, new Uint8Array([...theirSid, ...ourSid]), timeoutMs, lp, stream)
    } catch (err) {
      stream.abort(err as Error)
      this.log('pairing request from %p failed - %s', connection.remotePeer, (err as Error).message)
    }
  }

  private async await (joiner: PeerId, sid: Uint8Array, timeoutMs: number, lp: LengthPrefixedStream, stream: Stream): Promise<void> {
    const id = joiner.toString()
    const known = this.init.book.get(id)
    const finished = Promise.withResolvers<void>()
    finished.promise.catch(() => {})
    const request: Pending = { id, name: known?.profile.name ?? id.slice(-8), kind: known?.profile.kind ?? 'unknown', expiresAt: Date.now() + timeoutMs, decide: Promise.withResolvers(), finished: finished.promise }
    this.pending.set(id, request)
    this.safeDispatchEvent('pair:request', { detail: this.requests().find(r => r.id === id) as PairRequest })
    const wait = AbortSignal.timeout(timeoutMs + 2 * STEP_TIMEOUT_MS)
    // the joiner sends nothing until our share: a read that ends early means it gave up
    const next = receive(lp, wait, 'share')
    next.catch(() => {})
    const timer = setTimeout(() => {
      this.budget.timedOut(id)
      request.decide.resolve({ accept: false, reason: `pairing timed out after ${Math.round(timeoutMs / 1000)} s` })
    }, timeoutMs)
    let outcome: { paired: boolean, reason?: string } = { paired: false }
    const refuse = async (reason: string): Promise<void> => {
      await send(lp, { t: 'reject', reason }, AbortSignal.timeout(STEP_TIMEOUT_MS)).catch(() => {})
      await stream.close().catch(() => {})
      outcome = { paired: false, reason }
      finished.reject(new PairingError(reason))
    }
    try {
      const early = next.then(() => ({ accept: false as const, reason: 'the joining device broke the pairing protocol' }), () => ({ accept: false as const, reason: 'pairing cancelled on the joining device' }))
      const decision = await Promise.race([request.decide.promise, early])
      clearTimeout(timer)
      if (!decision.accept) { await refuse(decision.reason); return }
      const keys = await this.exchange(joiner, sid, decision.code, lp, next)
      if (keys == null) {
        const n = this.budget.wrongCode()
        await refuse(`pairing refused: the code did not match (attempt ${n} of ${PAIR_MAX_FAILURES})`)
        return
      }
      const gift = await this.init.account.giftFor(id)
      await send(lp, { t: 'accept', confirm: b64(keys.ownConfirmation), gift: b64(sealGift(keys.sessionKey, gift)) }, AbortSignal.timeout(STEP_TIMEOUT_MS))
      const done = await receive(lp, AbortSignal.timeout(STEP_TIMEOUT_MS), 'done', 'error').catch(async (err: Error) => {
        // the stream went before 'done' came (the joining device's connections change as it
        // joins, more so under load): it joined if it now shows a certificate of this account
        if (err instanceof PairingError && await this.shows(id)) return { t: 'done' as const }
        throw err
      })
      if (done.t === 'error') throw new PairingError(`the joining device could not join: ${String(done.reason)}`)
      await stream.close().catch(() => {})
      this.log('device %s joined the account', id)
      outcome = { paired: true }
      await this.init.onAccepted(id)
      finished.resolve()
    } catch (err) {
      outcome = { paired: false, reason: (err as Error).message }
      finished.reject(err instanceof PairingError ? err : new PairingError(`pairing failed: ${(err as Error).message}`))
      throw err
    } finally {
      clearTimeout(timer)
      this.pending.delete(id)
      this.safeDispatchEvent('pair:ended', { detail: { id, ...outcome } })
    }
  }

  /** CPace with the code the user typed: the session keys if the joiner proved the same code, else undefined. */
  private async exchange (joiner: PeerId, sid: Uint8Array, code: string, lp: LengthPrefixedStream, theirShare: Promise<{ y: string, confirm?: string }>): Promise<CpaceKeys | undefined> {
    const session = new CpaceSession({ password: new TextEncoder().encode(code), channel: channelOf(joiner, this.peerId()), sid, initiator: true })
    const step = AbortSignal.timeout(STEP_TIMEOUT_MS)
    await send(lp, { t: 'share', y: b64(session.share) }, step)
    const theirs = await Promise.race([theirShare, new Promise<never>((_resolve, reject) => { step.addEventListener('abort', () => { reject(new PairingError('the joining device did not answer')) }) })])
    const keys = session.finish(unb64(theirs.y, 'share', CPACE_SHARE_BYTES))
    return keys.confirms(unb64(theirs.confirm, 'confirm', CONFIRM_BYTES)) ? keys : undefined
  }
}

export function pairing (init: PairingInit): (components: PairingComponents) => Pairing {
  return (components) => new DefaultPairing(components, init)
}
