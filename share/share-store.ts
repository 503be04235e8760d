import { DatabaseSync } from 'node:sqlite'
import type { ShareState, ShareView } from './constants.ts'

/** The file of transfers in the data directory. */
export const SHARES_DB_FILE = 'shares.db'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transfers (
  id TEXT NOT NULL, device TEXT NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  size INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, path TEXT, reason TEXT,
  chunk INTEGER, mtime REAL, text TEXT, created_at INTEGER NOT NULL,
  PRIMARY KEY (id, device, direction)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transfers_by_state ON transfers (direction, state);
CREATE TABLE IF NOT EXISTS pieces (device TEXT NOT NULL, file TEXT NOT NULL, piece INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (device, file, piece)) WITHOUT ROWID;`

/** A row as stored: the view's fields, snake_case where SQL has them, and the sender's hashes. */
type Row = Omit<ShareView, 'createdAt'> & { chunk: number | null, mtime: number | null, created_at: number }

/** An outgoing file as the sender keeps it: the source's time when it was shared, and its piece size. */
export interface Outgoing extends ShareView { chunk: number, mtime: number }

const view = (r: Row): ShareView => ({ id: r.id, device: r.device, direction: r.direction, kind: r.kind, name: r.name, size: r.size, bytes: r.bytes, state: r.state, path: r.path, reason: r.reason, text: r.text, createdAt: r.created_at })

/**
 * Transfers in and out (`<data-dir>/shares.db`), written before anything is acknowledged:
 * after a restart the sender goes on with what it had queued or was sending, from what the
 * receiver holds.
 */
export class ShareStore {
  private readonly db: DatabaseSync
  /**
   * The same file for the hashes of arriving pieces, written after every piece: not flushed
   * to disk each time (a daemon that crashes loses none of them; a power cut costs at most
   * the pieces since the last flush, sent again).
   */
  private readonly piecesDb: DatabaseSync

  constructor (path: string) {
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000')
    this.db.exec(SCHEMA)
    this.piecesDb = new DatabaseSync(path)
    this.piecesDb.exec('PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000')
  }

  close (): void {
    this.piecesDb.close()
    this.db.close()
  }

  add (t: Omit<ShareView, 'bytes' | 'state' | 'reason' | 'createdAt'> & { state?: ShareState, chunk?: number, mtime?: number }): ShareView {
    this.db.prepare(`INSERT INTO transfers (id, device, direction, kind, name, size, bytes, state, path, reason, chunk, mtime, text, created_at)
      VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, ?, ?, ?, ?)
      ON CONFLICT (id, device, direction) DO UPDATE SET state = excluded.state, reason = NULL`)
      .run(t.id, t.device, t.direction, t.kind, t.name, t.size, t.state ?? 'queued', t.path, t.chunk ?? null, t.mtime ?? null, t.text, Date.now())
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
    return { ...view(row), chunk: row.chunk ?? 0, mtime: row.mtime ?? 0 }
  }

  /** Outgoing transfers not finished, oldest first. */
  pending (): ShareView[] {
    return (this.db.prepare("SELECT * FROM transfers WHERE direction = 'out' AND state IN ('queued', 'sending', 'paused') ORDER BY created_at, id").all() as unknown as Row[]).map(view)
  }

  list (): ShareView[] {
    return (this.db.prepare('SELECT * FROM transfers ORDER BY created_at DESC, id LIMIT 1000').all() as unknown as Row[]).map(view)
  }

  /** The hashes of the pieces of a file arriving from `device` (`file`: its key), in order, as far as they were kept. */
  pieces (device: string, file: string): string[] {
    const rows = this.piecesDb.prepare('SELECT piece, hash FROM pieces WHERE device = ? AND file = ? ORDER BY piece').all(device, file) as Array<{ piece: number, hash: string }>
    const out: string[] = []
    for (const r of rows) { if (r.piece !== out.length) break; out.push(r.hash) }
    return out
  }

  addPiece (device: string, file: string, piece: number, hash: string): void {
    this.piecesDb.prepare('INSERT OR REPLACE INTO pieces (device, file, piece, hash) VALUES (?, ?, ?, ?)').run(device, file, piece, hash)
  }

  /** Forget every piece of a file, from whichever device (an abandoned partial file). */
  dropFile (file: string): void {
    this.piecesDb.prepare('DELETE FROM pieces WHERE file = ?').run(file)
  }

  /** Forget the pieces from `from` on (0: the whole file). */
  dropPieces (device: string, file: string, from: number): void {
    this.piecesDb.prepare('DELETE FROM pieces WHERE device = ? AND file = ? AND piece >= ?').run(device, file, from)
  }

  update (id: string, device: string, direction: 'in' | 'out', change: { state?: ShareState, bytes?: number, path?: string | null, reason?: string | null }): void {
    const current = this.get(id, device, direction)
    if (current == null) return
    this.db.prepare('UPDATE transfers SET state = ?, bytes = ?, path = ?, reason = ? WHERE id = ? AND device = ? AND direction = ?').run(
      change.state ?? current.state, change.bytes ?? current.bytes, change.path === undefined ? current.path : change.path,
      change.reason === undefined ? current.reason : change.reason, id, device, direction)
  }
}
