import { DatabaseSync } from 'node:sqlite'
import type { ShareState, ShareView } from './constants.ts'

/** The file of transfers in the data directory. */
export const SHARES_DB_FILE = 'shares.db'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transfers (
  id TEXT NOT NULL, device TEXT NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  size INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, path TEXT, reason TEXT,
  sha256 TEXT, chunk INTEGER, chunks TEXT, text TEXT, created_at INTEGER NOT NULL, mtime REAL,
  PRIMARY KEY (id, device, direction)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transfers_by_state ON transfers (direction, state);`

/** A row as stored: the view's fields, snake_case where SQL has them, and the sender's hashes. */
type Row = Omit<ShareView, 'createdAt'> & { sha256: string | null, chunk: number | null, chunks: string | null, created_at: number, mtime: number | null }

/** An outgoing file as the sender keeps it: the source, its hash and its pieces' hashes. */
export interface Outgoing extends ShareView { sha256: string, chunk: number, chunks: string[], mtime: number }

const view = (r: Row): ShareView => ({ id: r.id, device: r.device, direction: r.direction, kind: r.kind, name: r.name, size: r.size, bytes: r.bytes, state: r.state, path: r.path, reason: r.reason, text: r.text, createdAt: r.created_at })

/**
 * Transfers in and out (`<data-dir>/shares.db`), written before anything is acknowledged:
 * after a restart the sender goes on with what it had queued or was sending, from what the
 * receiver holds.
 */
export class ShareStore {
  private readonly db: DatabaseSync

  constructor (path: string) {
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000')
    this.db.exec(SCHEMA)
  }

  close (): void {
    this.db.close()
  }

  add (t: Omit<ShareView, 'bytes' | 'state' | 'reason' | 'createdAt'> & { state?: ShareState, sha256?: string, chunk?: number, chunks?: string[], mtime?: number }): ShareView {
    this.db.prepare(`INSERT INTO transfers (id, device, direction, kind, name, size, bytes, state, path, reason, sha256, chunk, chunks, text, created_at, mtime)
      VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id, device, direction) DO UPDATE SET state = excluded.state, reason = NULL`)
      .run(t.id, t.device, t.direction, t.kind, t.name, t.size, t.state ?? 'queued', t.path, t.sha256 ?? null, t.chunk ?? null, t.chunks == null ? null : JSON.stringify(t.chunks), t.text, Date.now(), t.mtime ?? null)
    return this.get(t.id, t.device, t.direction) as ShareView
  }

  get (id: string, device: string, direction: 'in' | 'out'): ShareView | undefined {
    const row = this.db.prepare('SELECT * FROM transfers WHERE id = ? AND device = ? AND direction = ?').get(id, device, direction) as Row | undefined
    return row == null ? undefined : view(row)
  }

  /** Every transfer with this id (one file sent to several devices shares none: each has its own id). */
  byId (id: string): ShareView[] {
    return (this.db.prepare('SELECT * FROM transfers WHERE id = ?').all(id) as unknown as Row[]).map(view)
  }

  outgoing (id: string, device: string): Outgoing | undefined {
    const row = this.db.prepare("SELECT * FROM transfers WHERE id = ? AND device = ? AND direction = 'out'").get(id, device) as Row | undefined
    if (row == null || row.kind !== 'file') return undefined
    return { ...view(row), sha256: row.sha256 ?? '', chunk: row.chunk ?? 0, chunks: JSON.parse(row.chunks ?? '[]') as string[], mtime: row.mtime ?? 0 }
  }

  /** Outgoing transfers not finished, oldest first. */
  pending (): ShareView[] {
    return (this.db.prepare("SELECT * FROM transfers WHERE direction = 'out' AND state IN ('queued', 'sending', 'paused') ORDER BY created_at, id").all() as unknown as Row[]).map(view)
  }

  list (): ShareView[] {
    return (this.db.prepare('SELECT * FROM transfers ORDER BY created_at DESC, id LIMIT 1000').all() as unknown as Row[]).map(view)
  }

  update (id: string, device: string, direction: 'in' | 'out', change: { state?: ShareState, bytes?: number, path?: string | null, reason?: string | null }): void {
    const current = this.get(id, device, direction)
    if (current == null) return
    this.db.prepare('UPDATE transfers SET state = ?, bytes = ?, path = ?, reason = ? WHERE id = ? AND device = ? AND direction = ?').run(
      change.state ?? current.state, change.bytes ?? current.bytes, change.path === undefined ? current.path : change.path,
      change.reason === undefined ? current.reason : change.reason, id, device, direction)
  }
}
