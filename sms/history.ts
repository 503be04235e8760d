import { createHash } from 'node:crypto'
import type { Logger } from '@libp2p/interface'
import type { SmsBackend, StoredSms } from './backends/backend.ts'
import { MAX_PARTS, MULTI_UNITS } from './codec/plan.ts'
import { numberOrNone, senderOf } from './codec/numbers.ts'
import { prepared } from './materialize.ts'
import { contactEvents, contactId, type ContactDraft } from './contacts.ts'
import { loadNumberPlans, toE164 } from './national-numbers.ts'
import { bodyFits, fitIncomingBody } from './signed-events.ts'
import type { SmsStore, Tx } from './store.ts'

/**
 * Entries of the phone's store read per step of an import: a small first page, so the newest
 * conversations are in the log at once, then large ones (each read of a phone's store has a
 * cost of its own: Termux:API answers through an Android activity).
 */
export const HISTORY_FIRST_PAGE = 100
export const HISTORY_PAGE = 1_000
/** Entries written to the log per transaction. */
const TAKE_BATCH = 500
/**
 * A sent entry of the phone's store is the text a member sent through this phone when it has
 * the same recipient and body and was handed to the radio this close in time (the store keeps
 * the time it went out, at second precision, in the phone's clock).
 */
export const SENT_MATCH_WINDOW_MS = 10 * 60_000

/** Where an import stands: entries of the store read, and how many of them were new to the log. */
export interface ImportProgress {
  scanned: number
  added: number
  done: boolean
}

export interface HistoryImportInit {
  store: SmsStore
  backend: SmsBackend
  /** Devices that may see what the phone received and sent; undefined when every member may. */
  receivers(): string[] | undefined
  log: Logger
}

const hash = (...parts: Array<string | number>): string => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32)

/**
 * The id of an incoming text: the same SMS read again (the network resending it, the inbox
 * polled again, an import of the store) gets the same id, so it is in the log once.
 */
export function incomingId (self: string, from: string, at: number, body: string): string {
  return 'in-' + hash(self, from, at, body)
}

/** A text of the phone's store as an event may carry it: cut, with a mark, when longer than any network delivers. */
function fitStoredBody (body: string, direction: 'in' | 'out'): string {
  const fitted = fitIncomingBody(body)
  if (direction === 'in' || bodyFits(fitted, 'out')) return fitted
  // a little under the UCS-2 limit: parts never split a surrogate pair, so some hold one unit less
  return fitted.slice(0, MAX_PARTS * MULTI_UNITS - MAX_PARTS) + ' […]'
}

/**
 * The phone's own store in the log: every text it holds, received or sent (from its own
 * messaging app too), once. A sent entry that is a text a member sent through this phone is
 * matched to that message instead of becoming a second one. What is in the log is recorded per
 * store entry (`stored_keys`), so reading the store again adds nothing.
 */
export class HistoryImport {
  private readonly init: HistoryImportInit
  private running?: { progress: ImportProgress, listeners: Set<(p: ImportProgress) => void>, finished: Promise<ImportProgress> }

  constructor (init: HistoryImportInit) {
    this.init = init
  }

  /** Put entries of the store into the log, each once; resolves with how many were new, once they are on disk. */
  async take (entries: StoredSms[]): Promise<number> {
    if (entries.length === 0) return 0
    // before the transaction: a store writes numbers in the national form
    await loadNumberPlans()
    const { backend } = this.init
    const audience = this.init.receivers()
    const scheme = backend.uri.split(/[:?]/)[0] ?? backend.uri
    return await this.init.store.write(tx => {
      const sim = backend.facts
      let added = 0
      const names: ContactDraft[] = []
      for (const entry of entries) {
        const key = `${scheme}:${entry.key}`
        if (prepared(tx.db, 'SELECT 1 FROM stored_keys WHERE key = ?').get(key) != null) continue
        const result = entry.direction === 'in' ? this.takeIncoming(tx, entry, sim.number, sim.country, audience) : this.takeSent(tx, entry, sim.country, audience)
        if (result == null) continue
        prepared(tx.db, 'INSERT OR IGNORE INTO stored_keys (key, id, party) VALUES (?, ?, ?)').run(key, result.id, result.party)
        if (result.added) added++
        if (entry.name != null && entry.direction === 'in') names.push({ id: contactId(`${tx.self}\nphone`, entry.name), name: entry.name, numbers: [result.party] })
      }
      // the names the store gave beside its texts: the phone's contacts, as far as they texted
      for (const event of contactEvents(tx.db, names, sim.country, Date.now(), { merge: true }).events) tx.append(event, audience)
      return added
    })
  }

  private takeIncoming (tx: Tx, entry: StoredSms, ownNumber: string | undefined, country: string | undefined, audience: string[] | undefined): { id: string, party: string, added: boolean } {
    const from = toE164(entry.party, country) ?? senderOf(entry.party)
    const at = Number.isSafeInteger(entry.at) && entry.at > 0 ? entry.at : Date.now()
    const id = incomingId(tx.self, from, at, entry.body)
    if (prepared(tx.db, 'SELECT 1 FROM messages WHERE id = ?').get(id) != null) return { id, party: from, added: false }
    const number = numberOrNone(ownNumber)
    tx.append({
      type: 'message', id, direction: 'in', from, to: number == null ? [] : [number], body: fitStoredBody(entry.body, 'in'),
      author: tx.self, createdAt: at, via: tx.self, stored: true, ...(entry.read === true ? { read: true as const } : {})
    }, audience)
    return { id, party: from, added: true }
  }

  private takeSent (tx: Tx, entry: StoredSms, country: string | undefined, audience: string[] | undefined): { id: string, party: string, added: boolean } | undefined {
    const to = toE164(entry.party, country)
    if (to == null) {
      this.init.log('a sent text of the phone\'s store has no recipient number this can read; left out')
      return undefined
    }
    const at = Number.isSafeInteger(entry.at) && entry.at > 0 ? entry.at : Date.now()
    const matched = this.sentThroughUs(tx, entry, to, at)
    if (matched != null) return { id: matched, party: to, added: false }
    const id = 'st-' + hash(tx.self, to, at, entry.body)
    if (prepared(tx.db, 'SELECT 1 FROM messages WHERE id = ?').get(id) != null) return { id, party: to, added: false }
    tx.append({ type: 'message', id, direction: 'out', from: null, to: [to], body: fitStoredBody(entry.body, 'out'), author: tx.self, createdAt: at, via: tx.self, stored: true }, audience)
    return { id, party: to, added: true }
  }

  /**
   * The message a member sent through this phone that a sent entry of the store is: by the
   * backend's reference where it gives one, else the same recipient and body handed to the
   * radio within the window, nearest in time, not matched to another entry already.
   */
  private sentThroughUs (tx: Tx, entry: StoredSms, to: string, at: number): string | undefined {
    if (entry.ref != null) {
      const byRef = prepared(tx.db, 'SELECT id FROM proxy_parts WHERE ref = ? AND recipient = ?').get(entry.ref, to) as { id: string } | undefined
      if (byRef != null) return byRef.id
    }
    const row = prepared(tx.db, `SELECT p.id FROM proxy_parts p WHERE p.recipient = ? AND p.body = ? AND p.state IN ('handing', 'sent', 'delivered')
      AND p.received_at BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM stored_keys k WHERE k.id = p.id AND k.party = p.recipient)
      ORDER BY ABS(p.received_at - ?) LIMIT 1`).get(to, entry.body, at - SENT_MATCH_WINDOW_MS, at + SENT_MATCH_WINDOW_MS, at) as { id: string } | undefined
    return row?.id
  }

  /**
   * Read the whole store (or what is newer than `since`), newest first, a page at a time, so
   * recent conversations are in the log first. One import at a time: asked while one runs,
   * the caller follows that one.
   */
  async run (options: { since?: number, onProgress?: (p: ImportProgress) => void } = {}): Promise<ImportProgress> {
    if (this.running == null) {
      const listeners = new Set<(p: ImportProgress) => void>()
      const progress: ImportProgress = { scanned: 0, added: 0, done: false }
      const finished = this.walk(progress, options.since, listeners).finally(() => { this.running = undefined })
      this.running = { progress, listeners, finished }
    }
    const { listeners, finished } = this.running
    const listener = options.onProgress
    if (listener != null) listeners.add(listener)
    try {
      return await finished
    } finally {
      if (listener != null) listeners.delete(listener)
    }
  }

  private async walk (progress: ImportProgress, since: number | undefined, listeners: Set<(p: ImportProgress) => void>): Promise<ImportProgress> {
    const history = this.init.backend.history
    if (history == null) throw new Error('this backend cannot read the phone\'s store')
    for (let offset = 0, limit = HISTORY_FIRST_PAGE; ; offset += limit, limit = HISTORY_PAGE) {
      const page = await history.page(offset, limit)
      const wanted = since == null ? page.entries : page.entries.filter(e => e.at >= since)
      for (let i = 0; i < wanted.length; i += TAKE_BATCH) progress.added += await this.take(wanted.slice(i, i + TAKE_BATCH))
      progress.scanned += wanted.length
      // newest first: past `since` nothing older is wanted
      const last = page.end || wanted.length < page.entries.length
      if (last) progress.done = true
      for (const listener of listeners) listener({ ...progress })
      if (last) return { ...progress }
    }
  }
}
