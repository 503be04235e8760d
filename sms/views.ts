import type { DatabaseSync } from 'node:sqlite'
import type { SmsStatus } from './constants.ts'
import type { Attachment, ConversationView, MessageView, StatusEntry } from './view-types.ts'
import { countingStatuses, prepared } from './materialize.ts'
import { nameIndex, nameOfParties } from './contacts.ts'

interface MessageRow {
  id: string
  conversation: string
  direction: 'out' | 'in'
  sender: string | null
  recipients: string
  body: string
  author: string
  via: string | null
  created_at: number
  status: SmsStatus
  reason: string | null
  read: number
  route: 'sms' | 'network' | null
  seen_at: number | null
  attachments: string | null
}

const COLUMNS = 'id, conversation, direction, sender, recipients, body, author, via, created_at, status, reason, read, route, seen_at, attachments'

/** Whether this device holds a blob whole (the daemon's blob store); views without one say no. */
export type HasBlob = (sha256: string) => boolean

/** The statuses that count (said by a device that may say them, or by its removal), oldest first. */
function history (db: DatabaseSync, message: MessageRow): StatusEntry[] {
  const rows = countingStatuses(db, message.id, message).sort((a, b) => a.at - b.at || (a.status < b.status ? -1 : a.status > b.status ? 1 : 0))
  return rows.map(r => r.reason == null ? { status: r.status, at: r.at, device: r.device } : { status: r.status, at: r.at, device: r.device, reason: r.reason })
}

/** The parties a message is with: its sender when it came in, its recipients when it went out. */
const partiesOf = (r: MessageRow): string[] => r.direction === 'in' ? [r.sender ?? 'Unknown'] : JSON.parse(r.recipients) as string[]

function view (db: DatabaseSync, r: MessageRow, names: ReadonlyMap<string, string>, has: HasBlob): MessageView {
  const v: MessageView = {
    id: r.id,
    conversation: r.conversation,
    direction: r.direction,
    from: r.sender,
    to: JSON.parse(r.recipients) as string[],
    body: r.body,
    author: r.author,
    via: r.via,
    status: r.status,
    statusHistory: history(db, r),
    createdAt: r.created_at,
    read: r.read === 1,
    name: nameOfParties(names, partiesOf(r)),
    route: r.route,
    seenAt: r.seen_at,
    attachments: r.attachments == null ? [] : (JSON.parse(r.attachments) as Attachment[]).map(a => ({ ...a, here: has(a.sha256) }))
  }
  if (r.reason != null) v.reason = r.reason
  return v
}

export function getMessage (db: DatabaseSync, id: string, has: HasBlob = () => false): MessageView | undefined {
  const row = prepared(db, `SELECT ${COLUMNS} FROM messages WHERE id = ?`).get(id) as MessageRow | undefined
  return row == null ? undefined : view(db, row, nameIndex(db), has)
}

/** The newest `limit` messages (of one conversation, or matching a search), oldest first. */
export function listMessages (db: DatabaseSync, options: { conversation?: string, search?: string, limit: number, before?: number }, has: HasBlob = () => false): MessageView[] {
  const where: string[] = []
  const args: Array<string | number> = []
  if (options.conversation != null) { where.push('conversation = ?'); args.push(options.conversation) }
  if (options.search != null) { where.push("body LIKE ? ESCAPE '\\'"); args.push(`%${options.search.replace(/[\\%_]/g, c => '\\' + c)}%`) }
  if (options.before != null) { where.push('created_at < ?'); args.push(options.before) }
  const sql = `SELECT ${COLUMNS} FROM messages ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`
  const rows = db.prepare(sql).all(...args, options.limit) as unknown as MessageRow[]
  const names = nameIndex(db)
  return rows.reverse().map(r => view(db, r, names, has))
}

export function listConversations (db: DatabaseSync): ConversationView[] {
  // the summaries the views keep (materialize.ts), newest first, each with its newest message
  const rows = prepared(db, `SELECT c.conversation, c.messages, c.unread, m.id, m.direction, m.body, m.status, m.created_at
    FROM conversations c JOIN messages m ON m.id = c.last_id ORDER BY c.last_at DESC, c.last_id DESC`).all() as Array<{ conversation: string, messages: number, unread: number, id: string, direction: 'out' | 'in', body: string, status: SmsStatus, created_at: number }>
  const names = nameIndex(db)
  return rows.map(r => {
    const numbers = r.conversation.split(',')
    return {
      conversation: r.conversation,
      numbers,
      name: nameOfParties(names, numbers),
      messages: r.messages,
      unread: r.unread,
      last: { id: r.id, direction: r.direction, body: r.body, status: r.status, createdAt: r.created_at }
    }
  })
}

/** Ids of the unread messages of a conversation (what `sms read NUMBER` marks). */
export function unreadIn (db: DatabaseSync, conversation: string): string[] {
  return (prepared(db, 'SELECT id FROM messages WHERE conversation = ? AND read = 0').all(conversation) as Array<{ id: string }>).map(r => r.id)
}
