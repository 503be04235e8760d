import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { BaseDatastore } from 'datastore-core'
import { Key, type Pair, type Query, type KeyQuery } from 'interface-datastore'
import { NotFoundError } from 'interface-store'

/** At most `max` keys under `prefix`: what strangers can make us store is bounded. */
export interface DatastoreQuota {
  prefix: string
  max: number
}

export class DatastoreQuotaError extends Error {
  override name = 'DatastoreQuotaError'
}

/**
 * A libp2p datastore in one SQLite file, so the peer store (every device seen, with its
 * addresses) and the DHT's records survive a restart. Synchronous: node:sqlite is, and the
 * datastore interface allows it.
 */
export class SqliteDatastore extends BaseDatastore {
  private readonly db: DatabaseSync
  private readonly stmts: {
    put: StatementSync
    get: StatementSync
    has: StatementSync
    del: StatementSync
    prefix: StatementSync
    count: StatementSync
  }

  private readonly quotas: DatastoreQuota[]

  constructor (path: string, quotas: DatastoreQuota[] = []) {
    super()
    this.quotas = quotas
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA synchronous = NORMAL')
    this.db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID')
    this.stmts = {
      put: this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      get: this.db.prepare('SELECT value FROM kv WHERE key = ?'),
      has: this.db.prepare('SELECT 1 FROM kv WHERE key = ?'),
      del: this.db.prepare('DELETE FROM kv WHERE key = ?'),
      // keys sort as text; every key under a prefix lies in [prefix, prefix + U+FFFF)
      prefix: this.db.prepare('SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key'),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM kv WHERE key >= ? AND key < ?')
    }
  }

  override put (key: Key, val: Uint8Array): Key {
    const text = key.toString()
    for (const quota of this.quotas) {
      if (text.startsWith(quota.prefix) && !this.has(key) && this.count(quota.prefix) >= quota.max) {
        throw new DatastoreQuotaError(`no room for another key under ${quota.prefix} (${quota.max} held)`)
      }
    }
    this.stmts.put.run(text, val)
    return key
  }

  /** How many keys lie under `prefix`. */
  count (prefix: string): number {
    return Number((this.stmts.count.get(prefix, prefix + '\uffff') as { n: number }).n)
  }

  override get (key: Key): Uint8Array {
    const row = this.stmts.get.get(key.toString()) as { value: Uint8Array } | undefined
    if (row == null) throw new NotFoundError(`no value for ${key.toString()}`)
    return row.value
  }

  override has (key: Key): boolean {
    return this.stmts.has.get(key.toString()) != null
  }

  override delete (key: Key): void {
    this.stmts.del.run(key.toString())
  }

  override * _all (q: Query): Generator<Pair> {
    const prefix = q.prefix ?? ''
    // read the rows at once: a consumer awaits between items, and another query on the same
    // statement (or a write) meanwhile would invalidate a lazy iterator
    const rows = this.stmts.prefix.all(prefix, prefix + '\uffff') as Array<{ key: string, value: Uint8Array }>
    for (const row of rows) yield { key: new Key(row.key), value: row.value }
  }

  override * _allKeys (q: KeyQuery): Generator<Key> {
    for (const pair of this._all({ prefix: q.prefix })) yield pair.key
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}
