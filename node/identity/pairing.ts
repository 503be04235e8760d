import { randomBytes } from 'node:crypto'
import { TypedEventEmitter } from 'main-event'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { MAX_PAIR_TIMEOUT_MS, PAIR_FAILURE_WINDOW_MS, PAIR_MAX_FAILURES, PAIR_PROTOCOL, PAIR_TIMEOUT_MS } from './constants.ts'
import { PairingError } from './errors.ts'
import { commitment, isCode, pairingCode, sameCode } from './pairing-code.ts'
import type { AccountStore } from './account.ts'
import type { ProfileBook } from './profile-book.ts'

/** Pairing messages carry at most an account key, a certificate and a revocation list. */
const MAX_PAIR_FRAME_BYTES = 128 * 1024
/** How long each protocol step (not the user's decision) may take. */
const STEP_TIMEOUT_MS = 10_000

type Message =
  | { t: 'hello', timeoutMs: number }
  | { t: 'commit', c: string }
  | { t: 'nonce', n: string }
  | { t: 'accept', accountKey: string, certificate: string, revocations: string }
  | { t: 'reject', reason: string }
  | { t: 'refuse', reason: string }
  | { t: 'done' }
  | { t: 'error', reason: string }

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

const encode = (m: Message): Uint8Array => new TextEncoder().encode(JSON.stringify(m))
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const unb64 = (s: unknown): Uint8Array => {
  if (typeof s !== 'string') throw new PairingError('the other device broke the pairing protocol')
  return new Uint8Array(Buffer.from(s, 'base64'))
}

async function read<T extends Message['t']> (lp: LengthPrefixedStream, signal: AbortSignal, ...expected: T[]): Promise<Extract<Message, { t: T }>> {
  let message: Message
  try {
    message = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())) as Message
  } catch (err) {
    if (signal.aborted) throw err
    throw new PairingError('the other device ended the pairing')
  }
  if (message == null || !(expected as string[]).includes(message.t)) throw new PairingError('the other device broke the pairing protocol')
  return message as Extract<Message, { t: T }>
}

interface Pending extends PairRequest {
  code: string
  decide: PromiseWithResolvers<{ accept: true } | { accept: false, reason: string }>
  finished: Promise<void>
}

class DefaultPairing extends TypedEventEmitter<PairingEvents> implements Pairing, Startable {
  private readonly components: PairingComponents
  private readonly init: PairingInit
  private readonly log: Logger
  private readonly pending = new Map<string, Pending>()
  private readonly failures = new Map<string, number[]>()

  constructor (components: PairingComponents, init: PairingInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:pairing')
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/pairing'

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
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs + STEP_TIMEOUT_MS), ...(options.signal == null ? [] : [options.signal])])
    const stream = await (await this.components.connectionManager.openConnection(peer, { signal })).newStream(PAIR_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
    try {
      await lp.write(encode({ t: 'hello', timeoutMs }), { signal })
      const first = await read(lp, signal, 'commit', 'refuse')
      if (first.t === 'refuse') throw new PairingError(first.reason)
      const ours = randomBytes(32)
      await lp.write(encode({ t: 'nonce', n: b64(ours) }), { signal })
      const theirs = unb64((await read(lp, signal, 'nonce')).n)
      if (commitment(theirs) !== first.c) throw new PairingError('the other device broke the pairing protocol (its nonce does not match its commitment)')
      options.onCode(pairingCode(this.peerId(), peer, ours, theirs))
      const answer = await read(lp, signal, 'accept', 'reject')
      if (answer.t === 'reject') throw new PairingError(answer.reason)
      try {
        await this.init.account.adopt({ accountKey: unb64(answer.accountKey), certificate: unb64(answer.certificate), revocations: unb64(answer.revocations) })
      } catch (err) {
        await lp.write(encode({ t: 'error', reason: (err as Error).message }), { signal }).catch(() => {})
        throw new PairingError(`could not join: ${(err as Error).message}`)
      }
      await lp.write(encode({ t: 'done' }), { signal })
      await stream.close({ signal }).catch(() => {})
      this.log('joined account %s', this.init.account.id)
      await this.init.onJoined()
      return { account: this.init.account.id }
    } catch (err) {
      stream.abort(err as Error)
      if (options.signal?.aborted === true) throw new PairingError('pairing cancelled')
      if (signal.aborted) throw new PairingError(`pairing timed out after ${Math.round(timeoutMs / 1000)} s: the code was not confirmed on the other device`)
      throw err
    }
  }

  private peerId (): PeerId {
    return peerIdFromString(this.init.account.certificateDevice)
  }

  async accept (id: string, code: string): Promise<void> {
    const request = this.pending.get(id)
    if (request == null) throw new PairingError('no pairing request from that device is waiting; start `companion pair` on it first')
    if (!isCode(code)) throw new PairingError('the code is the 6 digits the joining device shows')
    if (!sameCode(code, request.code)) {
      const n = this.fail(id)
      const reason = `pairing refused: the code did not match (attempt ${n} of ${PAIR_MAX_FAILURES})`
      request.decide.resolve({ accept: false, reason })
      await request.finished.catch(() => {})
      throw new PairingError(reason)
    }
    request.decide.resolve({ accept: true })
    await request.finished
  }

  reject (id: string): void {
    const request = this.pending.get(id)
    if (request == null) throw new PairingError('no pairing request from that device is waiting')
    request.decide.resolve({ accept: false, reason: 'pairing refused on the other device' })
  }

  /** Count a failure; returns how many in the window. */
  private fail (id: string): number {
    const now = Date.now()
    const recent = (this.failures.get(id) ?? []).filter(t => now - t < PAIR_FAILURE_WINDOW_MS)
    recent.push(now)
    this.failures.set(id, recent)
    return recent.length
  }

  private blockedFor (id: string): number {
    const now = Date.now()
    const recent = (this.failures.get(id) ?? []).filter(t => now - t < PAIR_FAILURE_WINDOW_MS)
    return recent.length >= PAIR_MAX_FAILURES ? (recent[0] ?? now) + PAIR_FAILURE_WINDOW_MS - now : 0
  }

  private refusal (id: string): string | undefined {
    if (this.init.book.relation(id) === 'member') return 'already a member of this account: the two devices are paired'
    if (this.init.account.isRevoked(id)) return 'this device was removed from the account; reset its data directory to pair it again'
    const wait = this.blockedFor(id)
    if (wait > 0) return `too many failed attempts from this device (${PAIR_MAX_FAILURES} in ${PAIR_FAILURE_WINDOW_MS / 60_000} minutes); try again in ${Math.ceil(wait / 60_000)} minute(s)`
    if (this.pending.has(id)) return 'a pairing request from this device is already waiting'
    return undefined
  }

  /** Member side: one request, from hello to the user's decision. */
  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const id = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
    const step = AbortSignal.timeout(STEP_TIMEOUT_MS)
    try {
      const hello = await read(lp, step, 'hello')
      const timeoutMs = Number.isSafeInteger(hello.timeoutMs) ? Math.min(Math.max(hello.timeoutMs as number, 1_000), MAX_PAIR_TIMEOUT_MS) : PAIR_TIMEOUT_MS
      const refusal = this.refusal(id)
      if (refusal != null) {
        await lp.write(encode({ t: 'refuse', reason: refusal }), { signal: step })
        await stream.close({ signal: step })
        return
      }
      const ours = randomBytes(32)
      await lp.write(encode({ t: 'commit', c: commitment(ours) }), { signal: step })
      const theirs = unb64((await read(lp, step, 'nonce')).n)
      await lp.write(encode({ t: 'nonce', n: b64(ours) }), { signal: step })
      const code = pairingCode(connection.remotePeer, this.peerId(), theirs, ours)
      await this.await(id, code, timeoutMs, lp, stream)
    } catch (err) {
      stream.abort(err as Error)
      this.log('pairing request from %p failed - %s', connection.remotePeer, (err as Error).message)
    }
  }

  private async await (id: string, code: string, timeoutMs: number, lp: LengthPrefixedStream, stream: Stream): Promise<void> {
    const known = this.init.book.get(id)
    const finished = Promise.withResolvers<void>()
    finished.promise.catch(() => {})
    const request: Pending = { id, name: known?.profile.name ?? id.slice(-8), kind: known?.profile.kind ?? 'unknown', expiresAt: Date.now() + timeoutMs, code, decide: Promise.withResolvers(), finished: finished.promise }
    this.pending.set(id, request)
    this.safeDispatchEvent('pair:request', { detail: this.requests().find(r => r.id === id) as PairRequest })
    const wait = AbortSignal.timeout(timeoutMs + STEP_TIMEOUT_MS)
    // the joiner sends nothing until we answer: a read that ends early means it gave up
    const next = read(lp, wait, 'done', 'error')
    next.catch(() => {})
    const timer = setTimeout(() => {
      this.fail(id)
      request.decide.resolve({ accept: false, reason: `pairing timed out after ${Math.round(timeoutMs / 1000)} s` })
    }, timeoutMs)
    let outcome: { paired: boolean, reason?: string } = { paired: false }
    try {
      const decision = await Promise.race([request.decide.promise, next.then(() => ({ accept: false as const, reason: 'the joining device broke the pairing protocol' }), () => ({ accept: false as const, reason: 'pairing cancelled on the joining device' }))])
      if (!decision.accept) {
        await lp.write(encode({ t: 'reject', reason: decision.reason }), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) }).catch(() => {})
        await stream.close().catch(() => {})
        outcome = { paired: false, reason: decision.reason }
        finished.reject(new PairingError(decision.reason))
        return
      }
      const gift = await this.init.account.giftFor(id)
      await lp.write(encode({ t: 'accept', accountKey: b64(gift.accountKey), certificate: b64(gift.certificate), revocations: b64(gift.revocations) }), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
      const done = await next
      if (done.t === 'error') throw new PairingError(`the joining device could not join: ${done.reason}`)
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
}

export function pairing (init: PairingInit): (components: PairingComponents) => Pairing {
  return (components) => new DefaultPairing(components, init)
}
