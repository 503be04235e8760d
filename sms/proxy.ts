import type { Logger } from '@libp2p/interface'
import type { SmsBackend, DeliveryReport, IncomingSms } from './backends/backend.ts'
import { OUTCOME_UNKNOWN, RATE_WINDOW_MS } from './constants.ts'
import { Backoff } from './backoff.ts'
import { SmsBackendError } from './errors.ts'
import { prepared } from './materialize.ts'
import { incomingId } from './history.ts'
import { clampReason, fitIncomingBody } from './signed-events.ts'
import { isPremium, isShortCode, numberOrNone, senderOf } from './codec/numbers.ts'
import type { SmsStore, Tx } from './store.ts'
import { NotCarriedError, type Binding, type Carried } from './network-texts.ts'

/** What the proxy enforces, from the daemon's settings. */
export interface ProxyPolicy {
  /** Messages per minute per device. */
  rate: number
  /** Numbers this phone never texts. */
  deny: string[]
  /** Short codes and premium numbers this phone may text anyway. */
  allow: string[]
}

export interface SmsProxyInit {
  store: SmsStore
  backend: SmsBackend
  /** May this device use `sms.send` here (the master list)? */
  maySend(device: string): boolean
  /** Who may see incoming SMS (`sms.receive`); undefined when every member may. */
  receivers(): string[] | undefined
  policy(): ProxyPolicy
  /** Group texts per recipient: a verified recipient's copy goes device to device (sms/network-texts.ts). */
  network?: ProxyNetwork
  log: Logger
}

/** What the proxy needs to carry one recipient's copy of a group text device to device. */
export interface ProxyNetwork {
  /** The account `recipient` is verified to be (within 30 days), or undefined. */
  binding(recipient: string): Binding | undefined
  /** Resolves once a device of that account stored it; throws NotCarriedError (`left`: it may have). */
  carry(text: Carried, binding: Binding, signal: AbortSignal): Promise<void>
}

/** A group text's copy that may have reached the recipient's device is carried again (it is stored once) this many times. */
const NETWORK_ATTEMPTS = 3
const NETWORK_ATTEMPT_MS = 20_000

/** A message the backend could not hand to the network is tried again after this long. */
const NOT_SENT_RETRY_MS = 3_000

/** Hand at most this many messages to the backend at once. */
const MAX_IN_FLIGHT = 64

/** After a failed write (disk full, busy), the worker and an unrecorded outcome try again: from this, doubling, up to the max. */
const RETRY_MIN_MS = 500
const RETRY_MAX_MS = 30_000


interface Part { id: string, recipient: string, author: string, body: string }

/** What became of a part: sent (the network's reference), delivered device to device, failed, or back to `accepted` (it never left). */
type Outcome = { state: 'sent', ref: string } | { state: 'delivered', ref: null } | { state: 'failed' | 'accepted', reason: string }

/**
 * The proxy role of a device with an SMS backend. A message assigned to this device is
 * stored with its parts (one per recipient) in the same transaction as the message itself;
 * this worker then says `accepted` (or why not), marks each part `handing` on disk, gives it
 * to the backend and records `sent` / `failed`. A part found `handing` after a restart may or
 * may not have left: it ends `failed(outcome unknown)`, never sent again.
 */
export class SmsProxy {
  private readonly init: SmsProxyInit
  private readonly sentAt = new Map<string, number[]>()
  private running = false
  private again = false
  private inFlight = 0
  private stopped = false
  private readonly retryDelay = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS)
  private retryTimer?: ReturnType<typeof setTimeout>

  constructor (init: SmsProxyInit) {
    this.init = init
    this.onChanges = this.onChanges.bind(this)
  }

  async start (): Promise<void> {
    const unknown = prepared(this.init.store.db, "SELECT DISTINCT id FROM proxy_parts WHERE state = 'handing'").all() as Array<{ id: string }>
    if (unknown.length > 0) {
      this.init.log('%d messages were being handed to the network when this device stopped: failed (%s)', unknown.length, OUTCOME_UNKNOWN)
      await this.init.store.write(tx => {
        prepared(tx.db, "UPDATE proxy_parts SET state = 'failed', reason = ? WHERE state = 'handing'").run(OUTCOME_UNKNOWN)
        for (const { id } of unknown) this.settle(tx, id)
      })
    }
    this.init.store.on('changes', this.onChanges)
    this.kick()
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.retryTimer)
    this.init.store.off('changes', this.onChanges)
  }

  private onChanges (changes: Array<{ proxy?: boolean }>): void {
    if (changes.some(c => c.proxy === true)) this.kick()
  }

  /** Something to do (new work, the backend became ready): run the worker. */
  kick (): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = true
    void this.work().then(() => { this.retryDelay.reset() }, err => {
      // a write failed (disk full, busy): the work is still on disk, try again in a while
      const ms = this.retryDelay.next()
      this.init.log.error('the proxy worker failed, trying again in %d ms - %e', ms, err)
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => { this.kick() }, ms)
      this.retryTimer.unref()
    }).finally(() => {
      this.running = false
      if (this.again) { this.again = false; this.kick() }
    })
  }

  private async work (): Promise<void> {
    const { store } = this.init
    // decide on new messages: accepted, or why not
    const fresh = prepared(store.db, "SELECT id, recipient, author, body FROM proxy_parts WHERE state = 'new' ORDER BY received_at, id").all() as unknown as Part[]
    if (fresh.length > 0) await store.write(tx => { this.decide(tx, fresh) })
    if (!this.init.backend.ready) return
    while (!this.stopped && this.init.backend.ready) {
      const room = MAX_IN_FLIGHT - this.inFlight
      if (room <= 0) return
      const ready = prepared(store.db, "SELECT id, recipient, author, body FROM proxy_parts WHERE state = 'accepted' ORDER BY received_at, id LIMIT ?").all(room) as unknown as Part[]
      if (ready.length === 0) return
      // on disk before the network sees it: after a crash these are `outcome unknown`
      await store.write(tx => { for (const p of ready) prepared(tx.db, "UPDATE proxy_parts SET state = 'handing' WHERE id = ? AND recipient = ?").run(p.id, p.recipient) })
      for (const part of ready) void this.hand(part)
    }
  }

  private decide (tx: Tx, parts: Part[]): void {
    const policy = this.init.policy()
    const byMessage = new Map<string, Part[]>()
    for (const p of parts) byMessage.set(p.id, [...(byMessage.get(p.id) ?? []), p])
    const number = numberOrNone(this.init.backend.facts.number)
    for (const [id, list] of byMessage) {
      const author = list[0]?.author ?? ''
      const refusal = this.refusal(author, list.map(p => p.recipient), policy)
      const setState = prepared(tx.db, 'UPDATE proxy_parts SET state = ?, reason = ? WHERE id = ?')
      if (refusal == null) {
        setState.run('accepted', null, id)
        tx.append({ type: 'status', id, status: 'accepted', at: Date.now(), ...(number == null ? {} : { from: number }) })
      } else {
        setState.run(refusal.status, refusal.reason, id)
        tx.append({ type: 'status', id, status: refusal.status, at: Date.now(), reason: refusal.reason })
      }
    }
  }

  /** Why this message may not go out, or undefined when it may. */
  private refusal (author: string, recipients: string[], policy: ProxyPolicy): { status: 'failed' | 'unauthorized', reason: string } | undefined {
    // (whatever it wrote before its removal: it sends nothing for a removed device)
    if (author !== this.init.store.self && this.init.store.isRemoved(author)) {
      return { status: 'unauthorized', reason: 'the device that wrote it was removed from the account: this phone sends nothing for it' }
    }
    if (author !== this.init.store.self && !this.init.maySend(author)) {
      return { status: 'unauthorized', reason: 'this phone does not let your device send SMS (sms.send); grant it on the phone' }
    }
    for (const to of recipients) {
      if (policy.deny.includes(to)) return { status: 'failed', reason: `${to} is on this phone's deny list` }
      if ((isShortCode(to) || isPremium(to)) && !policy.allow.includes(to)) {
        return { status: 'failed', reason: `${to} is a short code or premium number; allow it on the phone with --sms-allow ${to}` }
      }
    }
    const now = Date.now()
    const recent = (this.sentAt.get(author) ?? []).filter(t => t > now - RATE_WINDOW_MS)
    if (recent.length >= policy.rate) {
      this.sentAt.set(author, recent)
      return { status: 'failed', reason: `rate limit: at most ${policy.rate} messages a minute from one device` }
    }
    recent.push(now)
    this.sentAt.set(author, recent)
    return undefined
  }

  private async hand (part: Part): Promise<void> {
    this.inFlight++
    let outcome: Outcome
    try {
      outcome = await this.overNetwork(part) ?? { state: 'sent', ref: await this.init.backend.send(part.recipient, part.body) }
    } catch (err) {
      const reason = clampReason(err instanceof SmsBackendError ? err.message : `the backend failed: ${(err as Error).message}`)
      // refused before reaching the network: safe to try again once it is back
      outcome = err instanceof SmsBackendError && err.notSent ? { state: 'accepted', reason } : { state: 'failed', reason }
    } finally {
      this.inFlight--
    }
    await this.record(part, outcome)
    if (outcome.state !== 'accepted') this.kick()
    // it never left: try again in a while (the backend also says when it is ready again)
    else setTimeout(() => { this.kick() }, NOT_SENT_RETRY_MS).unref()
  }

  /**
   * One recipient's copy of a group text, device to device when that recipient is a verified
   * companion account (seed 002: least cost first): `delivered` once a device of it stored
   * the copy. Undefined when it goes by SMS: not a group, `--sms-only`, not verified, or no
   * device of that account took it before the copy left (then by SMS, once). A copy that may
   * have left is carried again (stored once) and never sent by SMS too.
   */
  private async overNetwork (part: Part): Promise<Outcome | undefined> {
    const network = this.init.network
    const from = numberOrNone(this.init.backend.facts.number)
    const binding = network?.binding(part.recipient)
    if (network == null || binding == null || from == null) return undefined
    const row = prepared(this.init.store.db, 'SELECT recipients, sms_only, created_at FROM messages WHERE id = ?').get(part.id) as { recipients: string, sms_only: number, created_at: number } | undefined
    if (row == null || row.sms_only === 1 || (JSON.parse(row.recipients) as string[]).length < 2) return undefined
    let reason = ''
    for (let attempt = 0; attempt < NETWORK_ATTEMPTS; attempt++) {
      try {
        await network.carry({ id: part.id, from, to: part.recipient, body: part.body, createdAt: row.created_at }, binding, AbortSignal.timeout(NETWORK_ATTEMPT_MS))
        this.init.log('%s to %s went device to device', part.id, part.recipient)
        return { state: 'delivered', ref: null }
      } catch (err) {
        reason = (err as Error).message
        if (!(err instanceof NotCarriedError && !err.left)) continue
        // surely not stored: the first attempt goes by SMS; a later one may follow one that left
        if (attempt === 0) return undefined
      }
    }
    return { state: 'failed', reason: clampReason(`${OUTCOME_UNKNOWN}: the recipient's device did not confirm it (${reason})`) }
  }

  /**
   * Write what became of a part. The text may have left: an outcome that could not be
   * written is tried again until it is (never left to end `outcome unknown` and be sent again).
   */
  private async record (part: Part, outcome: Outcome): Promise<void> {
    const delay = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS)
    while (true) {
      try {
        await this.init.store.write(tx => {
          prepared(tx.db, 'UPDATE proxy_parts SET state = ?, ref = ?, reason = ? WHERE id = ? AND recipient = ?')
            .run(outcome.state, 'ref' in outcome ? outcome.ref : null, 'reason' in outcome ? outcome.reason : null, part.id, part.recipient)
          this.settle(tx, part.id)
        })
        return
      } catch (err) {
        if (this.stopped) return
        const ms = delay.next()
        this.init.log.error('could not record the outcome of %s, trying again in %d ms - %e', part.id, ms, err)
        await new Promise(resolve => setTimeout(resolve, ms).unref())
      }
    }
  }

  /** When every part of a message is through a stage, the message is: say so once. */
  private settle (tx: Tx, id: string): void {
    const states = (prepared(tx.db, 'SELECT state, reason FROM proxy_parts WHERE id = ?').all(id) as Array<{ state: string, reason: string | null }>)
    const said = new Set((prepared(tx.db, 'SELECT status FROM statuses WHERE id = ? AND device = ?').all(id, tx.self) as Array<{ status: string }>).map(r => r.status))
    const say = (status: 'sent' | 'delivered' | 'failed', reason?: string): void => {
      if (said.has(status) || said.has('failed')) return
      tx.append({ type: 'status', id, status, at: Date.now(), ...(reason == null ? {} : { reason: clampReason(reason) }) })
    }
    if (states.some(s => s.state === 'new' || s.state === 'accepted' || s.state === 'handing')) return
    const failed = states.find(s => s.state === 'failed')
    if (failed != null) { say('failed', failed.reason ?? 'not sent'); return }
    if (states.every(s => s.state === 'sent' || s.state === 'delivered')) say('sent')
    if (states.every(s => s.state === 'delivered')) say('delivered')
  }

  /** A delivery report from the network. */
  async report (report: DeliveryReport): Promise<void> {
    await this.init.store.write(tx => {
      const part = prepared(tx.db, "SELECT id, recipient FROM proxy_parts WHERE ref = ? AND state = 'sent'").get(report.ref) as { id: string, recipient: string } | undefined
      if (part == null) return
      prepared(tx.db, 'UPDATE proxy_parts SET state = ?, reason = ? WHERE id = ? AND recipient = ?')
        .run(report.delivered ? 'delivered' : 'failed', report.delivered ? null : (report.reason ?? 'not delivered'), part.id, part.recipient)
      this.settle(tx, part.id)
    })
  }

  /** An SMS from the network: stored (then acknowledged by the backend), for every device allowed to see it. */
  async incoming (sms: IncomingSms): Promise<void> {
    const number = numberOrNone(this.init.backend.facts.number)
    const from = senderOf(sms.from)
    const body = fitIncomingBody(sms.body)
    // a backend's clock may say nothing useful: the text still counts, at the time it came
    const at = Number.isSafeInteger(sms.at) && sms.at > 0 ? sms.at : Date.now()
    // the same SMS delivered again (the network resends until acknowledged) gets the same id
    const id = incomingId(this.init.store.self, from, sms.at, sms.body)
    const audience = this.init.receivers()
    await this.init.store.write(tx => {
      if (prepared(tx.db, 'SELECT 1 FROM messages WHERE id = ?').get(id) != null) return
      tx.append({ type: 'message', id, direction: 'in', from, to: number == null ? [] : [number], body, author: tx.self, createdAt: at, via: tx.self }, audience)
    })
  }
}
