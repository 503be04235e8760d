import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { OUTCOME_UNKNOWN, STATUS_RANK, type SmsStatus } from './constants.ts'
import type { ContactEvent, EventPayload, MessageEvent } from './signed-events.ts'
import { conversationOf } from './codec/numbers.ts'

/** A message whose view changed, and how; `proxy` when this device now has to carry it. */
export interface ViewChange {
  type: 'message' | 'status' | 'read' | 'contact'
  id: string
  proxy?: boolean
}

const cache = new WeakMap<DatabaseSync, Map<string, StatementSync>>()

/** Prepared once per database: these run for every event. */
export function prepared (db: DatabaseSync, sql: string): StatementSync {
  let stmts = cache.get(db)
  if (stmts == null) cache.set(db, stmts = new Map())
  let stmt = stmts.get(sql)
  if (stmt == null) stmts.set(sql, stmt = db.prepare(sql))
  return stmt
}

/**
 * Apply one log event to the views. Every rule is commutative and idempotent (insert-if-absent,
 * set union, highest-ranked status), so devices that receive the same events in any order
 * end with the same views.
 */
export function applyEvent (db: DatabaseSync, payload: EventPayload, self: string): ViewChange[] {
  const { event, origin } = payload
  switch (event.type) {
    case 'message':
      return insertMessage(db, event, self)
    case 'assign': {
      // only the author hands its message to a proxy, and only once: an assignment is kept per
      // device, and only the author's counts (whichever arrives first, the message or it)
      prepared(db, 'INSERT OR IGNORE INTO assignments (id, device, via, route) VALUES (?, ?, ?, ?)').run(event.id, origin, event.via, event.route ?? null)
      const row = prepared(db, 'SELECT author, via, recipients, body FROM messages WHERE id = ?').get(event.id) as { author: string, via: string | null, recipients: string, body: string } | undefined
      if (row == null || row.author !== origin || row.via != null) return []
      prepared(db, 'UPDATE messages SET via = ?, sender = ?, route = ? WHERE id = ?').run(event.via, proxySender(db, event.id, event.via), event.route ?? 'sms', event.id)
      refreshStatus(db, event.id)
      // carried over the network by its author: no radio's work
      const proxy = event.via === self && event.route !== 'network' && enqueueProxyWork(db, event.id, row.author, JSON.parse(row.recipients) as string[], row.body)
      return [{ type: 'status', id: event.id, proxy }]
    }
    case 'status': {
      prepared(db, 'INSERT OR IGNORE INTO statuses (id, status, at, device, reason, sender) VALUES (?, ?, ?, ?, ?, ?)').run(event.id, event.status, event.at, origin, event.reason ?? null, event.from ?? null)
      if (event.from != null) prepared(db, 'UPDATE messages SET sender = ? WHERE id = ? AND sender IS NULL AND via = ?').run(event.from, event.id, origin)
      return refreshStatus(db, event.id) ? [{ type: 'status', id: event.id }] : []
    }
    case 'contact':
      return setContact(db, payload.origin, payload.seq, event)
    case 'binding':
      // the newest verification of a number counts (its time, then origin and number: the same everywhere)
      prepared(db, `INSERT INTO numbers (number, account, verified_at, epoch, origin, seq) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (number) DO UPDATE SET account = excluded.account, verified_at = excluded.verified_at, epoch = excluded.epoch, origin = excluded.origin, seq = excluded.seq
        WHERE (excluded.verified_at, excluded.origin, excluded.seq) > (verified_at, origin, seq)`).run(event.number, event.account, event.at, event.epoch ?? null, payload.origin, payload.seq)
      return []
    case 'seen': {
      // the earliest receipt counts, whichever arrives first
      const changed: ViewChange[] = []
      for (const id of event.ids) {
        prepared(db, 'INSERT INTO seen (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = MIN(at, excluded.at)').run(id, event.at)
        const at = (prepared(db, 'SELECT at FROM seen WHERE id = ?').get(id) as { at: number }).at
        if (prepared(db, "UPDATE messages SET seen_at = ? WHERE id = ? AND direction = 'out' AND (seen_at IS NULL OR seen_at != ?)").run(at, id, at).changes > 0) changed.push({ type: 'status', id })
      }
      return changed
    }
    case 'read': {
      const changed: ViewChange[] = []
      for (const id of event.ids) {
        prepared(db, 'INSERT OR IGNORE INTO reads (id, at) VALUES (?, ?)').run(id, event.at)
        if (prepared(db, 'UPDATE messages SET read = 1 WHERE id = ? AND read = 0').run(id).changes === 0) continue
        prepared(db, "UPDATE conversations SET unread = unread - 1 WHERE conversation = (SELECT conversation FROM messages WHERE id = ? AND direction = 'in')").run(id)
        changed.push({ type: 'read', id })
      }
      return changed
    }
  }
}

function insertMessage (db: DatabaseSync, m: MessageEvent, self: string): ViewChange[] {
  const conversation = conversationOf(m.direction === 'out' ? m.to : [m.from ?? 'unknown'])
  const assigned = prepared(db, 'SELECT via, route FROM assignments WHERE id = ? AND device = ?').get(m.id, m.author) as { via: string, route: string | null } | undefined
  const via = m.via ?? assigned?.via ?? null
  // how it went or came: device to device, or by SMS (undecided while no one carries it)
  const route = m.route ?? (m.via != null ? 'sms' : assigned == null ? null : (assigned.route ?? 'sms'))
  // what this account wrote is read by nature; what came in waits for the user (unless read on the phone)
  const read = m.direction === 'out' || m.read === true || prepared(db, 'SELECT 1 FROM reads WHERE id = ?').get(m.id) != null ? 1 : 0
  // the proxy's number may have come (with its status) before the message
  const sender = m.from ?? (via == null ? null : proxySender(db, m.id, via))
  // a text from the phone's store has gone out already: it starts sent, and is never handed to a radio
  const initial: SmsStatus = m.direction === 'in' ? 'received' : m.stored === true ? 'sent' : 'pending'
  const seenAt = m.direction === 'out' ? (prepared(db, 'SELECT at FROM seen WHERE id = ?').get(m.id) as { at: number } | undefined)?.at ?? null : null
  const attachments = m.attachments == null ? null : JSON.stringify(m.attachments)
  const inserted = prepared(db, `INSERT OR IGNORE INTO messages (id, conversation, direction, sender, recipients, body, author, via, created_at, status, read, route, seen_at, attachments, sms_only)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(m.id, conversation, m.direction, sender, JSON.stringify(m.to), m.body, m.author, via, m.createdAt, initial, read, route, seenAt, attachments, m.direction === 'out' && m.route === 'sms' ? 1 : 0)
  if (inserted.changes === 0) return []
  for (const a of m.attachments ?? []) prepared(db, 'INSERT OR IGNORE INTO message_attachments (sha256, id) VALUES (?, ?)').run(a.sha256, m.id)
  // the conversation's summary: counts and its newest message (by time, then id: the same on every device)
  prepared(db, `INSERT INTO conversations (conversation, messages, unread, last_id, last_at) VALUES (?, 1, ?, ?, ?)
    ON CONFLICT (conversation) DO UPDATE SET messages = messages + 1, unread = unread + excluded.unread,
      last_id = CASE WHEN excluded.last_at > last_at OR (excluded.last_at = last_at AND excluded.last_id > last_id) THEN excluded.last_id ELSE last_id END,
      last_at = MAX(last_at, excluded.last_at)`).run(conversation, m.direction === 'in' && read === 0 ? 1 : 0, m.id, m.createdAt)
  prepared(db, 'INSERT OR IGNORE INTO statuses (id, status, at, device, reason) VALUES (?, ?, ?, ?, NULL)').run(m.id, initial, m.createdAt, m.author)
  refreshStatus(db, m.id)
  const proxy = m.direction === 'out' && m.stored !== true && route !== 'network' && via === self && enqueueProxyWork(db, m.id, m.author, m.to, m.body)
  return [{ type: 'message', id: m.id, proxy }]
}

/** The newest event of a contact wins (by its time, then origin and number: the same on every device). */
function setContact (db: DatabaseSync, origin: string, seq: number, c: ContactEvent): ViewChange[] {
  const current = prepared(db, 'SELECT at, origin, seq FROM contacts WHERE id = ?').get(c.id) as { at: number, origin: string, seq: number } | undefined
  if (current != null && (current.at - c.at || (current.origin > origin ? 1 : current.origin < origin ? -1 : 0) || current.seq - seq) >= 0) return []
  prepared(db, 'DELETE FROM contact_numbers WHERE id = ?').run(c.id)
  if (c.numbers.length === 0) {
    prepared(db, 'DELETE FROM contacts WHERE id = ?').run(c.id)
    // the place is kept, so an older event of it arriving later does not bring it back
    prepared(db, 'INSERT INTO contacts (id, name, numbers, at, origin, seq) VALUES (?, ?, ?, ?, ?, ?)').run(c.id, c.name, '[]', c.at, origin, seq)
  } else {
    prepared(db, 'INSERT OR REPLACE INTO contacts (id, name, numbers, at, origin, seq) VALUES (?, ?, ?, ?, ?, ?)').run(c.id, c.name, JSON.stringify(c.numbers), c.at, origin, seq)
    const insert = prepared(db, 'INSERT OR IGNORE INTO contact_numbers (number, id) VALUES (?, ?)')
    for (const n of c.numbers) insert.run(n, c.id)
  }
  return [{ type: 'contact', id: c.id }]
}

/** The SIM number a message's proxy said it went out from (its status may have come before the message). */
function proxySender (db: DatabaseSync, id: string, via: string): string | null {
  return (prepared(db, 'SELECT sender FROM statuses WHERE id = ? AND device = ? AND sender IS NOT NULL LIMIT 1').get(id, via) as { sender: string } | undefined)?.sender ?? null
}

/** This device is the proxy of a message: one unit of work per recipient, once ever. */
function enqueueProxyWork (db: DatabaseSync, id: string, author: string, to: string[], body: string): boolean {
  // once ever: a message that comes again (replayed, relayed twice) finds its parts and adds nothing
  if (prepared(db, 'SELECT 1 FROM proxy_parts WHERE id = ?').get(id) != null) return false
  const insert = prepared(db, "INSERT OR IGNORE INTO proxy_parts (id, recipient, author, body, state, received_at) VALUES (?, ?, ?, ?, 'new', ?)")
  for (const recipient of new Set(to)) insert.run(id, recipient, author, body, Date.now())
  return true
}

/**
 * Who may say a status of a message: its author `pending` (and `received` for what it
 * carried in); its proxy what became of it; the author may end its own message `failed` or
 * `unauthorized` while no proxy has it (a refusal it was told, or heard, itself). A status
 * said by anyone else is kept in the log but counts for nothing.
 */
export function maySay (status: SmsStatus, device: string, message: { author: string, via: string | null }): boolean {
  if (status === 'pending' || status === 'received') return device === message.author
  if (message.via != null) return device === message.via
  return device === message.author && (status === 'failed' || status === 'unauthorized')
}

/** An outgoing text its author wrote and the account removed its author before any phone took it: no one will. */
export const AUTHOR_REMOVED = 'not sent: the device that wrote it was removed from the account before a phone took it'
/** An outgoing text whose phone the account removed before it said the text left. */
export const PROXY_REMOVED = `${OUTCOME_UNKNOWN}: the phone carrying it was removed from the account before it said the text left`

export interface StatusRow { status: SmsStatus, at: number, device: string, reason: string | null }
interface MessageFacts { direction: 'in' | 'out', author: string, via: string | null, created_at: number }

/**
 * The statuses of a message that count, in no order: those said by a device that may say
 * them, and what the account's removals say for a device that will never speak again
 * (§8.2): the text of a removed author no phone took ends `failed`, by its author; one whose
 * removed phone never said it left (`sent` or later) ends `failed(outcome unknown)`, by that
 * phone, at the removal's time. The same everywhere the same events and removals are known.
 */
export function countingStatuses (db: DatabaseSync, id: string, message: MessageFacts): StatusRow[] {
  const all = prepared(db, 'SELECT status, at, device, reason FROM statuses WHERE id = ?').all(id) as unknown as StatusRow[]
  const rows = all.filter(s => maySay(s.status, s.device, message))
  if (message.direction !== 'out') return rows
  const silent = message.via ?? message.author
  const removedAt = (prepared(db, 'SELECT at FROM removed_devices WHERE device = ?').get(silent) as { at: number } | undefined)?.at
  if (removedAt == null) return rows
  const at = Math.max(removedAt, message.created_at)
  if (message.via == null) return [...rows, { status: 'failed', at, device: silent, reason: AUTHOR_REMOVED }]
  if (rows.some(s => s.device === silent && STATUS_RANK[s.status] >= STATUS_RANK.sent)) return rows
  return [...rows, { status: 'failed', at, device: silent, reason: PROXY_REMOVED }]
}

/** Recompute a message's current status from its history; true if it changed. */
export function refreshStatus (db: DatabaseSync, id: string): boolean {
  const current = prepared(db, 'SELECT status, reason, direction, author, via, created_at FROM messages WHERE id = ?').get(id) as { status: SmsStatus, reason: string | null } & MessageFacts | undefined
  if (current == null) return false
  let best: StatusRow | undefined
  for (const s of countingStatuses(db, id, current)) {
    if (best == null) { best = s; continue }
    const order = STATUS_RANK[s.status] - STATUS_RANK[best.status] || s.at - best.at || (s.device > best.device ? 1 : s.device < best.device ? -1 : 0)
    if (order > 0) best = s
  }
  if (best == null || (best.status === current.status && best.reason === current.reason)) return false
  prepared(db, 'UPDATE messages SET status = ?, reason = ? WHERE id = ?').run(best.status, best.reason, id)
  return true
}
