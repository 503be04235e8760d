import { randomUUID } from 'node:crypto'
import type { Logger } from '@libp2p/interface'
import type { SimFacts } from '../node/identity/records.ts'
import { MAX_BODY_CHARS, MAX_RECIPIENTS } from './constants.ts'
import { bodyFits } from './signed-events.ts'
import { MAX_PARTS, MULTI_UNITS } from './codec/plan.ts'
import { InvalidSmsError } from './errors.ts'
import { prepared } from './materialize.ts'
import { countryCode, normalizeNumber } from './codec/numbers.ts'
import type { SmsStore, Tx } from './store.ts'
import type { Attachment } from './view-types.ts'

/** A device that could carry a message: a member (or this device) with an SMS backend. */
export interface ProxyCandidate {
  id: string
  /** Has an active link now (or is this device, with its backend ready). */
  reachable: boolean
  sim?: SimFacts
  /** Its master list refuses this device `sms.send`: never chosen. */
  refusesUs?: boolean
}

/**
 * Best proxy first (leaving out those that refuse this device): reachable, then with a SIM of
 * the recipients' country, not roaming, better signal; the device id breaks ties so every
 * choice is repeatable.
 */
export function rankProxies (candidates: ProxyCandidate[], recipients: string[]): ProxyCandidate[] {
  const home = (c: ProxyCandidate): number => {
    const cc = c.sim?.number == null ? undefined : countryCode(c.sim.number)
    return cc != null && recipients.every(r => countryCode(r) === cc) ? 1 : 0
  }
  const key = (c: ProxyCandidate): number[] => [Number(c.reachable), home(c), Number(c.sim?.roaming !== true), c.sim?.signal ?? 0]
  return candidates.filter(c => c.refusesUs !== true).sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    for (let i = 0; i < ka.length; i++) if ((ka[i] ?? 0) !== (kb[i] ?? 0)) return (kb[i] ?? 0) - (ka[i] ?? 0)
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  })
}

export interface SmsClientInit {
  store: SmsStore
  candidates(): ProxyCandidate[]
  log: Logger
}

export interface NewMessage {
  id: string
  to: string[]
  via: string | null
}

/** Check what the user typed; the normalized recipients, or InvalidSmsError. */
export function checkDraft (to: string[], body: string, files = false): string[] {
  if (!Array.isArray(to) || to.length === 0) throw new InvalidSmsError('give at least one recipient')
  if (to.length > MAX_RECIPIENTS) throw new InvalidSmsError(`at most ${MAX_RECIPIENTS} recipients`)
  // a picture may go alone; a text by SMS needs words
  if (typeof body !== 'string' || (body.length === 0 && !files)) throw new InvalidSmsError('the text is empty')
  if (!bodyFits(body, 'out')) throw new InvalidSmsError(`the text needs more than ${MAX_PARTS} SMS parts (at most ${MAX_BODY_CHARS} GSM-7 or ${MAX_PARTS * MULTI_UNITS} UCS-2 characters)`)
  return [...new Set(to.map(normalizeNumber))]
}

/**
 * The client role, on every device: a message is stored as pending and returned at once;
 * it is handed to a proxy (an `assign` event, replicated like everything) as soon as one is
 * reachable. Once handed, it stays with that proxy: only the proxy says what became of it.
 */
export class SmsClient {
  private readonly init: SmsClientInit

  constructor (init: SmsClientInit) {
    this.init = init
  }

  /** Store a new message; `via` is a proxy chosen by the user, else the best reachable one. */
  async send (to: string[], body: string, via?: string, smsOnly = false): Promise<NewMessage> {
    const recipients = checkDraft(to, body)
    const proxy = via ?? rankProxies(this.init.candidates(), recipients).find(c => c.reachable)?.id
    return await this.store(recipients, body, proxy, undefined, undefined, smsOnly)
  }

  /**
   * Store a new message to be carried device to device (`mode`: SMS if that fails before it
   * left, or never): no proxy yet; the network sender owns it until it is carried or given up.
   */
  async sendOverNetwork (to: string[], body: string, mode: 'auto' | 'network-only', attachments?: Attachment[]): Promise<NewMessage> {
    return await this.store(checkDraft(to, body, attachments != null), body, undefined, attachments, (tx, id) => {
      prepared(tx.db, "INSERT INTO network_sends (id, state, mode, since) VALUES (?, 'new', ?, ?)").run(id, mode, Date.now())
    })
  }

  /** One new outgoing message of this device in the log (and, with `then`, more events with it). */
  private async store (recipients: string[], body: string, via: string | undefined, attachments?: Attachment[], then?: (tx: Tx, id: string) => void, smsOnly = false): Promise<NewMessage> {
    const id = randomUUID()
    const { store } = this.init
    await store.write(tx => {
      tx.append({ type: 'message', id, direction: 'out', from: null, to: recipients, body, author: store.self, createdAt: Date.now(), ...(via == null ? {} : { via }), ...(attachments == null ? {} : { attachments }), ...(smsOnly ? { route: 'sms' as const } : {}) })
      then?.(tx, id)
    })
    return { id, to: recipients, via: via ?? null }
  }

  /** Hand every waiting message of this device to the best reachable proxy (when one appears). */
  async assignWaiting (): Promise<number> {
    const { store } = this.init
    // not those the network sender has (they go by SMS only once it gave up before they left)
    const waiting = prepared(store.db, `SELECT id, recipients FROM messages WHERE via IS NULL AND author = ? AND status = 'pending'
      AND id NOT IN (SELECT id FROM network_sends WHERE state != 'sms') ORDER BY created_at`).all(store.self) as Array<{ id: string, recipients: string }>
    if (waiting.length === 0) return 0
    const candidates = this.init.candidates()
    const choices = waiting.flatMap(m => {
      const best = rankProxies(candidates, JSON.parse(m.recipients) as string[]).find(c => c.reachable)
      return best == null ? [] : [{ id: m.id, via: best.id }]
    })
    if (choices.length === 0) return 0
    await store.write(tx => {
      for (const c of choices) {
        // still unassigned inside the transaction: never two proxies for one message
        if (prepared(tx.db, 'SELECT 1 FROM messages WHERE id = ? AND via IS NULL').get(c.id) != null) tx.append({ type: 'assign', id: c.id, via: c.via })
      }
    })
    this.init.log('handed %d waiting messages to proxies', choices.length)
    return choices.length
  }

  /**
   * This device left its account (or was removed): the account's phones will not take what it
   * wrote and no phone took yet, so those texts end `failed` with `reason`. Returns how many.
   */
  async endWaiting (reason: string): Promise<number> {
    const { store } = this.init
    return await store.write(tx => {
      // (not those going device to device to another account: leaving changes nothing for them)
      const waiting = prepared(tx.db, `SELECT id FROM messages WHERE via IS NULL AND author = ? AND status = 'pending' AND direction = 'out'
        AND id NOT IN (SELECT id FROM network_sends WHERE state != 'sms')`).all(store.self) as Array<{ id: string }>
      for (const { id } of waiting) tx.append({ type: 'status', id, status: 'failed', at: Date.now(), reason })
      return waiting.length
    })
  }

  /** A message refused before any proxy had it (a device outside the account): recorded with its refusal. */
  async recordRefusal (to: string[], body: string, status: 'unauthorized' | 'failed', reason: string): Promise<NewMessage> {
    return await this.store(checkDraft(to, body), body, undefined, undefined, (tx, id) => { tx.append({ type: 'status', id, status, at: Date.now(), reason }) })
  }
}
