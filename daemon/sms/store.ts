import { EventEmitter } from 'node:events'
import { DatabaseSync } from 'node:sqlite'
import { MAX_BATCH } from './constants.ts'
import { checkPayload, verifySignature, type EventPayload, type EventSigner, type SignedEvent, type SmsEvent } from './events.ts'
import { applyEvent, prepared, type ViewChange } from './materialize.ts'
import { SCHEMA } from './schema.ts'

/** A stored event, as the log sends it on: real, or a placeholder for one the receiver may not see. */
export type LogEntry = { origin: string, seq: number, hidden: false, signed: SignedEvent, payload: EventPayload } | { origin: string, seq: number, hidden: true }

/** An entry as a sync peer sends it: signed, or a numbered placeholder. */
export type IncomingEntry = { origin: string, seq: number, hidden: true } | { signed: SignedEvent }

/** Per origin device, the highest sequence number up to which this device has every event. */
export type VersionVector = Record<string, number>

export interface StoreEvents {
  /** New log entries, after they are on disk (for replication). */
  entries: [LogEntry[]]
  /** Messages whose view changed, after they are on disk (for watchers and the roles). */
  changes: [ViewChange[]]
}

/** What a write may do inside its transaction. */
export interface Tx {
  db: DatabaseSync
  /** This device's id. */
  self: string
  /** Append an event to this device's own log and apply it. */
  append(event: SmsEvent, audience?: string[]): void
  /** Store an event from another device's log (checked already) and apply it; false if known. */
  ingest(entry: LogEntry): boolean
}

/**
 * The message store: one SQLite file in WAL mode with `synchronous = FULL`, so a commit is on
 * disk when it returns. Writers queue work; one transaction commits everything queued in the
 * same turn of the event loop (group commit), which is what makes hundreds of durable
 * messages per second possible. Listeners hear of entries and changes only after the commit.
 */
export class SmsStore extends EventEmitter<StoreEvents> {
  readonly db: DatabaseSync
  readonly self: string
  private readonly signer: EventSigner
  private ownSeq: number
  private queue: Array<{ work: (tx: Tx) => unknown, resolve: (v: unknown) => void, reject: (e: Error) => void }> = []
  private scheduled = false
  private readonly ingesting = new Set<string>()

  constructor (init: { path: string, self: string, signer: EventSigner }) {
    super()
    this.self = init.self
    this.signer = init.signer
    this.db = new DatabaseSync(init.path)
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA synchronous = FULL')
    this.db.exec(SCHEMA)
    this.ownSeq = this.storedOwnSeq()
  }

  close (): void {
    this.db.close()
  }

  /** Run `work` in the next group transaction; resolves once it is committed (durable). */
  async write<T> (work: (tx: Tx) => T): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => { this.flush() })
      }
    })
  }

  /**
   * Store what is new in a batch from the sync peer `from`, of devices `accept` trusts. The
   * contents are always checked; a signature only when the event is new here and was relayed
   * (an event its origin sent itself came over that device's authenticated tunnel). Checking
   * happens outside the transaction: it is the CPU-heavy part.
   */
  async ingest (entries: IncomingEntry[], from: string, accept: (origin: string) => boolean): Promise<number> {
    const checked: LogEntry[] = []
    for (const e of entries) {
      if ('hidden' in e) {
        if (accept(e.origin)) checked.push(e)
        continue
      }
      const payload = checkPayload(e.signed.payload)
      if (!accept(payload.origin) || this.held(payload.origin, payload.seq)) continue
      if (payload.origin !== from) verifySignature(e.signed, payload)
      checked.push({ origin: payload.origin, seq: payload.seq, hidden: false, signed: e.signed, payload })
    }
    if (checked.length === 0) return 0
    const keys = checked.map(e => `${e.origin}/${e.seq}`)
    for (const key of keys) this.ingesting.add(key)
    try {
      return await this.write(tx => checked.filter(e => tx.ingest(e)).length)
    } finally {
      for (const key of keys) this.ingesting.delete(key)
    }
  }

  /** Stored, or on its way into the store (a copy from another member may still be committing). */
  private held (origin: string, seq: number): boolean {
    return this.ingesting.has(`${origin}/${seq}`) || this.has(origin, seq)
  }

  private has (origin: string, seq: number): boolean {
    return prepared(this.db, 'SELECT 1 FROM events WHERE origin = ? AND seq = ?').get(origin, seq) != null
  }

  /** The last number this device gave an event of its own, as the file has it. */
  private storedOwnSeq (): number {
    return (prepared(this.db, 'SELECT MAX(seq) AS seq FROM events WHERE origin = ?').get(this.self) as { seq: number | null }).seq ?? 0
  }

  private flush (): void {
    this.scheduled = false
    const batch = this.queue.splice(0, MAX_BATCH)
    if (this.queue.length > 0) {
      this.scheduled = true
      setImmediate(() => { this.flush() })
    }
    const entries: LogEntry[] = []
    const changes: ViewChange[] = []
    const results: Array<{ ok: true, value: unknown } | { ok: false, error: Error }> = []
    const tx = this.transaction(entries, changes)
    this.db.exec('BEGIN IMMEDIATE')
    try {
      for (const item of batch) {
        // a failing write undoes only itself: the others in the batch still commit
        const mark = { entries: entries.length, changes: changes.length, seq: this.ownSeq }
        this.db.exec('SAVEPOINT item')
        try {
          results.push({ ok: true, value: item.work(tx) })
          this.db.exec('RELEASE item')
        } catch (err) {
          this.db.exec('ROLLBACK TO item')
          this.db.exec('RELEASE item')
          entries.length = mark.entries
          changes.length = mark.changes
          this.ownSeq = mark.seq
          results.push({ ok: false, error: err as Error })
        }
      }
      this.db.exec('COMMIT')
    } catch (err) {
      try { this.db.exec('ROLLBACK') } catch {}
      this.ownSeq = this.storedOwnSeq()
      for (const item of batch) item.reject(err as Error)
      return
    }
    batch.forEach((item, i) => {
      const r = results[i]
      if (r?.ok === true) item.resolve(r.value)
      else item.reject(r?.error ?? new Error('write lost'))
    })
    if (entries.length > 0) this.emit('entries', entries)
    if (changes.length > 0) this.emit('changes', changes)
  }

  private transaction (entries: LogEntry[], changes: ViewChange[]): Tx {
    const apply = (payload: EventPayload): void => {
      // a device sees only what is meant for it; a placeholder keeps its log gap-free
      if (payload.audience != null && payload.origin !== this.self && !payload.audience.includes(this.self)) return
      changes.push(...applyEvent(this.db, payload, this.self))
    }
    return {
      db: this.db,
      self: this.self,
      append: (event, audience) => {
        const payload: EventPayload = { origin: this.self, seq: this.ownSeq + 1, event }
        if (audience != null) payload.audience = audience
        const signed = this.signer.seal(payload)
        this.store({ origin: this.self, seq: payload.seq, hidden: false, signed, payload })
        this.ownSeq = payload.seq
        entries.push({ origin: this.self, seq: payload.seq, hidden: false, signed, payload })
        apply(payload)
      },
      ingest: (entry) => {
        if (entry.origin === this.self) return false
        if (!this.store(entry)) return false
        entries.push(entry)
        if (!entry.hidden) apply(entry.payload)
        return true
      }
    }
  }

  /** Insert one log entry and move its origin's contiguous mark; false if it was there. */
  private store (entry: LogEntry): boolean {
    const { origin, seq } = entry
    const insert = prepared(this.db, 'INSERT OR IGNORE INTO events (origin, seq, payload, sig, hidden) VALUES (?, ?, ?, ?, ?)')
    const inserted = entry.hidden ? insert.run(origin, seq, '', new Uint8Array(0), 1) : insert.run(origin, seq, entry.signed.payload, entry.signed.sig, 0)
    const setContiguous = prepared(this.db, 'INSERT INTO origins (origin, contiguous) VALUES (?, ?) ON CONFLICT(origin) DO UPDATE SET contiguous = excluded.contiguous')
    if (inserted.changes === 0) return false
    let contiguous = (prepared(this.db, 'SELECT contiguous FROM origins WHERE origin = ?').get(origin) as { contiguous: number } | undefined)?.contiguous ?? 0
    if (seq === contiguous + 1) {
      contiguous = seq
      while (this.has(origin, contiguous + 1)) contiguous++
      setContiguous.run(origin, contiguous)
    } else if (contiguous === 0 && seq > 1) {
      setContiguous.run(origin, 0)
    }
    return true
  }

  versionVector (): VersionVector {
    const rows = prepared(this.db, 'SELECT origin, contiguous FROM origins').all() as Array<{ origin: string, contiguous: number }>
    return Object.fromEntries(rows.map(r => [r.origin, r.contiguous]))
  }

  /** Entries of `origin` after `after`, oldest first, at most `limit`. */
  entriesAfter (origin: string, after: number, limit: number): LogEntry[] {
    const rows = prepared(this.db, 'SELECT seq, payload, sig, hidden FROM events WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?').all(origin, after, limit) as Array<{ seq: number, payload: string, sig: Uint8Array, hidden: number }>
    return rows.map(r => r.hidden === 1
      ? { origin, seq: r.seq, hidden: true as const }
      : { origin, seq: r.seq, hidden: false as const, signed: { payload: r.payload, sig: r.sig }, payload: JSON.parse(r.payload) as EventPayload })
  }
}
