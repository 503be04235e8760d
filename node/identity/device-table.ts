import { chmodSync } from 'node:fs'
import { DatabaseSync, type StatementSync } from 'node:sqlite'

/** A device as the table keeps it: its last verified records and where it was last seen. */
export interface StoredDevice {
  id: string
  certBytes: Uint8Array
  profileBytes: Uint8Array
  addresses: string[]
  /** When it last connected or showed a profile (ms). */
  seenAt: number
}

/** Addresses kept per device: its announced ones, a handful per interface. */
export const MAX_STORED_ADDRESSES = 16
const MAX_ADDRESS_CHARS = 256

/**
 * Every device that showed a valid certificate and profile, in our own SQLite file. libp2p's
 * peer store forgets a peer unseen for 6 hours; the account's members must never be
 * forgotten, whatever the clock did, so they live here, with their last addresses.
 */
export class DeviceTable {
  private readonly db: DatabaseSync
  private readonly stmts: Record<'all' | 'put' | 'addresses' | 'seen' | 'delete', StatementSync>

  constructor (path: string) {
    this.db = new DatabaseSync(path)
    try { chmodSync(path, 0o600) } catch {}
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA busy_timeout = 5000')
    this.db.exec(`CREATE TABLE IF NOT EXISTS devices (
      id TEXT PRIMARY KEY,
      cert BLOB NOT NULL,
      profile BLOB NOT NULL,
      addresses TEXT NOT NULL DEFAULT '[]',
      seen_at INTEGER NOT NULL
    ) WITHOUT ROWID`)
    this.stmts = {
      all: this.db.prepare('SELECT id, cert, profile, addresses, seen_at FROM devices'),
      put: this.db.prepare(`INSERT INTO devices (id, cert, profile, seen_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET cert = excluded.cert, profile = excluded.profile, seen_at = excluded.seen_at`),
      addresses: this.db.prepare('UPDATE devices SET addresses = ?, seen_at = ? WHERE id = ?'),
      seen: this.db.prepare('UPDATE devices SET seen_at = ? WHERE id = ?'),
      delete: this.db.prepare('DELETE FROM devices WHERE id = ?')
    }
  }

  all (): StoredDevice[] {
    return this.stmts.all.all().map(row => ({
      id: String(row.id),
      certBytes: new Uint8Array(row.cert as Uint8Array),
      profileBytes: new Uint8Array(row.profile as Uint8Array),
      addresses: parseAddresses(String(row.addresses)),
      seenAt: Number(row.seen_at)
    }))
  }

  put (id: string, certBytes: Uint8Array, profileBytes: Uint8Array, seenAt: number): void {
    this.stmts.put.run(id, certBytes, profileBytes, seenAt)
  }

  setAddresses (id: string, addresses: string[], seenAt: number): void {
    this.stmts.addresses.run(JSON.stringify(keepAddresses(addresses)), seenAt, id)
  }

  seen (id: string, at: number): void {
    this.stmts.seen.run(at, id)
  }

  delete (id: string): void {
    this.stmts.delete.run(id)
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}

/** At most MAX_STORED_ADDRESSES sane strings: the table is never grown by what a peer says. */
export function keepAddresses (addresses: unknown[]): string[] {
  return [...new Set(addresses.filter((a): a is string => typeof a === 'string' && a.length > 0 && a.length <= MAX_ADDRESS_CHARS))].slice(0, MAX_STORED_ADDRESSES)
}

function parseAddresses (text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text)
    return Array.isArray(parsed) ? keepAddresses(parsed) : []
  } catch {
    return []
  }
}
