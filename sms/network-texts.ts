import { createHash } from 'node:crypto'
import type { Logger } from '@libp2p/interface'
import { RATE_WINDOW_MS } from './constants.ts'
import { Backoff } from './backoff.ts'
import { InvalidSmsError } from './errors.ts'
import { prepared } from './materialize.ts'
import { fitIncomingBody } from './signed-events.ts'
import type { SmsStore } from './store.ts'
import { normalizeNumber } from './codec/numbers.ts'
import type { Attachment } from './view-types.ts'

/** A text between two accounts' devices, as both sides know it (its files pushed before it). */
export interface Carried { id: string, from: string, to: string, body: string, createdAt: number, attachments?: Attachment[] }

/** A number's verified account, and the epoch its keys were of then. */
export interface Binding { account: string, epoch: number | null }

/** A binding is trusted this long; then the number is verified again (texts go by SMS meanwhile). */
export const BINDING_MAX_AGE_MS = 30 * 24 * 60 * 60_000

/** A text from another account, whose account the node proved. */
export type Arriving = Carried & { account: string }

/** A read receipt: the texts (the sender's ids) the user of number `from` read. */
export interface Receipt { from: string, to: string, ids: string[] }

/** Thrown by `carry`: no device of the recipient's account stored it; `left`: the request may have reached one. */
export class NotCarriedError extends Error {
  override readonly name = 'NotCarriedError'
  readonly left: boolean
  /** Every device that answered refused it: carrying it again changes nothing. */
  readonly refused: boolean

  constructor (message: string, left: boolean, refused = false) {
    super(message)
    this.left = left
    this.refused = refused
  }
}

export interface NetworkTextsInit {
  store: SmsStore
  /** Whether this device holds a file whole (a text's files are pushed before it). */
  hasBlob(sha256: string): boolean
  /** The number this account texts from (its phone's), or undefined when it knows none. */
  ownNumber(): string | undefined
  /** Carry `text` to a device of the bound account; resolves once one stored it; throws NotCarriedError. */
  carry(text: Carried, binding: Binding, signal: AbortSignal): Promise<void>
  /** Numbers this account never takes texts from (the phone's deny list). */
  deny(): string[]
  /** Texts per minute one other account may deliver here. */
  rate: number
  /** Tell the senders of texts this device stored when the user read them (`--read-receipts`). */
  readReceipts?: boolean
  /** Carry a read receipt to a device of the bound account; throws when none took it. */
  sendReceipt?(receipt: Receipt, binding: Binding, signal: AbortSignal): Promise<void>
  log: Logger
}

/** A text that may have reached the other account is carried again until it surely did, for this long, then ends failed. */
export const NETWORK_GIVE_UP_MS = 60 * 60_000
const RETRY_MIN_MS = 5_000
/** One attempt to carry a text (finding the devices, then handing it over); with files, pushing them too. */
const CARRY_MS = 30_000
const CARRY_FILES_MS = 5 * 60_000
const RETRY_MAX_MS = 5 * 60_000

/**
 * Texts device to device between companion accounts. Sending: a text to a verified number is
 * owned here (`network_sends`) until a device of the number's account stored it (then it is
 * assigned to this device, route network, and `delivered`), or until every attempt failed
 * before it left (then it goes by SMS, once: the client hands it to a phone). One that may have
 * left is never sent by SMS too: it is carried again until surely stored. Receiving: a text
 * from an account bound to its sender's number, stored as incoming, route network.
 */
export class NetworkTexts {
  private readonly init: NetworkTextsInit
  private readonly received = new Map<string, number[]>()
  private running = false
  private again = false
  private stopped = false
  private timer?: ReturnType<typeof setTimeout>
  private readonly retry = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS)
  /** Told when a text goes to SMS after all (the client assigns it to a phone). */
  onFallback: () => void = () => {}

  private readonly onChanges = (changes: Array<{ type: string }>): void => { if (changes.some(c => c.type === 'read')) this.kick() }

  constructor (init: NetworkTextsInit) {
    this.init = init
    if (init.readReceipts === true) init.store.on('changes', this.onChanges)
  }

  /** The account a text to `to` goes to over the network: its one recipient's, verified within BINDING_MAX_AGE_MS. */
  binding (to: string[]): Binding | undefined {
    if (to.length !== 1) return undefined
    const row = prepared(this.init.store.db, 'SELECT account, epoch FROM numbers WHERE number = ? AND verified_at > ?').get(to[0] ?? '', Date.now() - BINDING_MAX_AGE_MS) as { account: string, epoch: number | null } | undefined
    return row == null ? undefined : { account: row.account, epoch: row.epoch }
  }

  /** A text from another account: stored (once), or refused with the reason. */
  async receive (text: Arriving): Promise<void> {
    const from = normalizeNumber(text.from)
    const bound = (prepared(this.init.store.db, 'SELECT account FROM numbers WHERE number = ?').get(from) as { account: string } | undefined)?.account
    if (bound !== text.account) throw new InvalidSmsError(`${from} is not verified as yours here: text it by SMS once (companion numbers verify)`)
    if (this.init.deny().includes(from)) throw new InvalidSmsError('this account does not take texts from that number')
    // the same text carried again (an answer lost on the way) is the same message
    const id = 'net-' + createHash('sha256').update(`${text.account}\n${text.id}`).digest('hex').slice(0, 32)
    if (prepared(this.init.store.db, 'SELECT 1 FROM messages WHERE id = ?').get(id) != null) return
    const now = Date.now()
    const recent = (this.received.get(text.account) ?? []).filter(t => t > now - RATE_WINDOW_MS)
    if (recent.length >= this.init.rate) throw new InvalidSmsError(`rate limit: at most ${this.init.rate} texts a minute from one account`)
    recent.push(now)
    this.received.set(text.account, recent)
    // their clock says when it was written, within a day of ours
    const at = Math.abs(text.createdAt - now) < 86_400_000 ? text.createdAt : now
    const missing = text.attachments?.find(a => !this.init.hasBlob(a.sha256))
    if (missing != null) throw new InvalidSmsError(`the file ${missing.name} has not arrived here: push it first`)
    await this.init.store.write(tx => {
      if (prepared(tx.db, 'SELECT 1 FROM messages WHERE id = ?').get(id) != null) return
      const to = normalizeNumber(text.to)
      tx.append({ type: 'message', id, direction: 'in', from, to: [to], body: fitIncomingBody(text.body), author: tx.self, createdAt: at, via: tx.self, route: 'network', ...(text.attachments == null || text.attachments.length === 0 ? {} : { attachments: text.attachments }) })
      // for a read receipt, if this device sends them: the sender's own id
      prepared(tx.db, 'INSERT OR IGNORE INTO network_inbox (id, account, original, sender, number) VALUES (?, ?, ?, ?, ?)').run(id, text.account, text.id, from, to)
    })
  }

  /** A read receipt from another account: its texts read, written for this whole account to see. */
  async receipt (receipt: Receipt & { account: string }): Promise<void> {
    const from = normalizeNumber(receipt.from)
    if (this.binding([from])?.account !== receipt.account) throw new InvalidSmsError(`${from} is not verified as yours here`)
    // only texts of ours to that number that went device to device
    const ids = receipt.ids.filter(id => prepared(this.init.store.db, "SELECT 1 FROM messages WHERE id = ? AND direction = 'out' AND route = 'network' AND recipients = ?").get(id, JSON.stringify([from])) != null)
    if (ids.length === 0) return
    await this.init.store.write(tx => { tx.append({ type: 'seen', ids: ids.slice(0, 500), at: Date.now() }) })
  }

  /** Texts this device stored that the user has read, their senders not told yet: tell them. */
  private async sendReceipts (): Promise<boolean> {
    const { store } = this.init
    if (this.init.readReceipts !== true || this.init.sendReceipt == null) return false
    const rows = prepared(store.db, 'SELECT n.id, n.account, n.original, n.sender, n.number FROM network_inbox n JOIN messages m ON m.id = n.id WHERE n.receipt = 0 AND m.read = 1 LIMIT 500').all() as Array<{ id: string, account: string, original: string, sender: string, number: string }>
    const groups = new Map<string, typeof rows>()
    for (const r of rows) groups.set(`${r.account} ${r.sender} ${r.number}`, [...(groups.get(`${r.account} ${r.sender} ${r.number}`) ?? []), r])
    let later = false
    for (const group of groups.values()) {
      const first = group[0]
      const binding = first == null ? undefined : this.binding([first.sender])
      if (first == null || binding == null || binding.account !== first.account) {
        await store.write(tx => { for (const r of group) prepared(tx.db, 'UPDATE network_inbox SET receipt = 1 WHERE id = ?').run(r.id) })
        continue
      }
      try {
        await this.init.sendReceipt({ from: first.number, to: first.sender, ids: group.map(r => r.original) }, binding, AbortSignal.timeout(30_000))
        await store.write(tx => { for (const r of group) prepared(tx.db, 'UPDATE network_inbox SET receipt = 1 WHERE id = ?').run(r.id) })
      } catch (err) {
        later = true
        this.init.log('read receipt to %s not sent yet - %s', first.sender, (err as Error).message)
      }
    }
    return later
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.init.store.off('changes', this.onChanges)
  }

  /** New texts to carry, or the network back: work through them. */
  kick (): void {
    if (this.stopped) return
    if (this.running) { this.again = true; return }
    this.running = true
    void this.work().catch(err => { this.init.log.error('carrying texts failed - %e', err) }).finally(() => {
      this.running = false
      if (this.again) { this.again = false; this.kick() }
    })
  }

  private async work (): Promise<void> {
    const { store } = this.init
    const rows = prepared(store.db, `SELECT n.id, n.state, n.mode, n.since, m.recipients, m.body, m.created_at, m.attachments FROM network_sends n JOIN messages m ON m.id = n.id
      WHERE n.state IN ('new', 'handing') ORDER BY n.since`).all() as Array<{ id: string, state: string, mode: string, since: number, recipients: string, body: string, created_at: number, attachments: string | null }>
    let later = await this.sendReceipts()
    for (const row of rows) {
      if (this.stopped) return
      const to = JSON.parse(row.recipients) as string[]
      const binding = this.binding(to)
      const from = this.init.ownNumber()
      if (binding == null || from == null) {
        await this.giveUp(row, row.state === 'handing', binding == null ? 'the number is not verified (or not for 30 days)' : 'this account has no phone number to text from')
        continue
      }
      // from here it may leave: after a crash it is carried again, never sent by SMS as well
      if (row.state === 'new') await store.write(tx => { prepared(tx.db, "UPDATE network_sends SET state = 'handing' WHERE id = ?").run(row.id) })
      try {
        const attachments = row.attachments == null ? undefined : JSON.parse(row.attachments) as Attachment[]
        await this.init.carry({ id: row.id, from, to: to[0] ?? '', body: row.body, createdAt: row.created_at, ...(attachments == null ? {} : { attachments }) }, binding, AbortSignal.timeout(attachments == null ? CARRY_MS : CARRY_FILES_MS))
        await store.write(tx => {
          prepared(tx.db, "UPDATE network_sends SET state = 'done' WHERE id = ?").run(row.id)
          tx.append({ type: 'assign', id: row.id, via: tx.self, route: 'network' })
          tx.append({ type: 'status', id: row.id, status: 'delivered', at: Date.now(), from })
        })
        this.retry.reset()
      } catch (err) {
        const left = !(err instanceof NotCarriedError) || err.left || row.state === 'handing'
        // files cannot go by SMS: a text with files is carried again (its pushes go on from what arrived)
        // until the recipient's devices refuse it (a text carried twice is stored once, and not refused)
        const files = row.attachments != null
        const refused = err instanceof NotCarriedError && err.refused
        if (files && refused) await this.giveUp(row, false, (err as Error).message)
        else if ((!left && !files) || Date.now() - row.since > NETWORK_GIVE_UP_MS) await this.giveUp(row, left, (err as Error).message)
        else later = true
        this.init.log('%s not carried yet - %s', row.id, (err as Error).message)
      }
    }
    if (later) {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => { this.kick() }, this.retry.next())
      this.timer.unref()
    }
  }

  /** Not carried: by SMS when it surely never left (and SMS is allowed), else failed with the reason. */
  private async giveUp (row: { id: string, mode: string }, left: boolean, reason: string): Promise<void> {
    const sms = !left && row.mode === 'auto'
    await this.init.store.write(tx => {
      prepared(tx.db, 'UPDATE network_sends SET state = ? WHERE id = ?').run(sms ? 'sms' : 'done', row.id)
      if (!sms) tx.append({ type: 'status', id: row.id, status: 'failed', at: Date.now(), reason: left ? `outcome unknown: the recipient's device did not confirm it (${reason})`.slice(0, 200) : `not carried over the network: ${reason}`.slice(0, 200) })
    })
    if (sms) this.onFallback()
  }
}
