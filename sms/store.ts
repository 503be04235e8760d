import { EventEmitter } from 'node:events'
import { DatabaseSync } from 'node:sqlite'
import { MAX_BATCH } from './constants.ts'
import { InvalidEventError, ProfilePendingError, StorageError, SyncProtocolError } from './errors.ts'
import { openStub, readEnvelope, verifySignature, verifyStub, type EventPayload, type EventSigner, type SignedEvent, type SignedStub, type SmsEvent } from './signed-events.ts'
import { applyEvent, maySay, prepared, refreshStatus, type ViewChange } from './materialize.ts'
import { admit, admitText, type EventContext } from './rules.ts'
import { migrate } from './schema.ts'

/** An event applied to the views. */
export interface EventEntry { kind: 'event', origin: string, seq: number, signed: SignedEvent, payload: EventPayload }
/** A correctly signed event this device keeps (and passes on) but does not apply, and why. */
/** A correctly signed event the rules refuse; `pending` when it waits for its origin's profile rather than breaking a rule. */
export interface RefusedEntry { kind: 'refused', origin: string, seq: number, signed: SignedEvent, reason: string, pending?: boolean }
/** The place of an event this device may not read; `stub` is the origin's proof (absent in files of old versions). */
export interface PlaceholderEntry { kind: 'placeholder', origin: string, seq: number, stub?: SignedStub }

/** A stored log entry. */
export type LogEntry = EventEntry | RefusedEntry | PlaceholderEntry

/** An entry as a sync peer sends it: an event, or the signed stub of one. */
export type IncomingEntry = { signed: SignedEvent } | { stub: SignedStub }

/** Per origin device, the highest sequence number up to which this device has every event. */
export type VersionVector = Record<string, number>

export interface StoreEvents {
  /** New log entries, after they are on disk (for replication). */
  entries: [LogEntry[]]
  /** Messages whose view changed, after they are on disk (for watchers and the roles). */
  changes: [ViewChange[]]
  /** Events kept but not applied, after they are on disk (for the log). */
  refused: [RefusedEntry[]]
}

/** What a write may do inside its transaction. */
export interface Tx {
  db: DatabaseSync
  /** This device's id. */
  self: string
  /** Append an event to this device's own log and apply it; InvalidEventError if peers would refuse it. */
  append(event: SmsEvent, audience?: string[]): void
  /** Store an entry of another device's log (checked already) and apply it; false if known. */
  ingest(entry: LogEntry): boolean
}

export interface SmsStoreInit extends EventContext {
  path: string
  self: string
  signer: EventSigner
  /** Opens the file (a test's store whose writes fail on demand). */
  open?: (path: string) => DatabaseSync
}

/** How long a writer waits for another connection's lock before the write fails. */
const BUSY_TIMEOUT_MS = 5_000

interface Row { seq: number, payload: string, sig: Uint8Array, hidden: number, refused: string | null, stub: Uint8Array | null }

/** A SQLite failure as the caller should read it; other errors pass unchanged. */
function storageError (err: unknown): Error {
  const e = err as Error & { code?: string, errstr?: string }
  if (e?.code !== 'ERR_SQLITE_ERROR') return e
  return new StorageError(`the message store could not be written (${e.errstr ?? e.message}); nothing of this request was kept, try again`)
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
  private readonly context: EventContext
  private ownSeq: number
  private queue: Array<{ work: (tx: Tx) => unknown, resolve: (v: unknown) => void, reject: (e: Error) => void }> = []
  private scheduled = false
  private readonly ingesting = new Set<string>()

  constructor (init: SmsStoreInit) {
    super()
    this.self = init.self
    this.signer = init.signer
    this.context = init
    this.db = (init.open ?? ((path) => new DatabaseSync(path)))(init.path)
    this.db.exec('PRAGMA journal_mode = WAL')
    this.db.exec('PRAGMA synchronous = FULL')
    this.db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    if (migrate(this.db)) this.rebuildViews()
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
   * Store what is new in a batch from a sync peer, of origins `accept` trusts. Every
   * signature is checked (a corrupted copy must not travel on). A correctly signed event that
   * the rules refuse is kept as refused, so the origin's log goes on past it; anything not
   * correctly signed is the peer's fault (SyncProtocolError). Checking happens outside the
   * transaction: it is the CPU-heavy part.
   */
  async ingest (entries: IncomingEntry[], accept: (origin: string) => boolean): Promise<number> {
    const checked: LogEntry[] = []
    for (const e of entries) {
      const entry = this.check(e, accept)
      if (entry != null) checked.push(entry)
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

  private check (e: IncomingEntry, accept: (origin: string) => boolean): LogEntry | undefined {
    if ('stub' in e) {
      const stub = openStub(e.stub)
      // a device of the audience waits for the event itself
      if (!accept(stub.origin) || stub.audience.includes(this.self) || this.held(stub.origin, stub.seq, true)) return undefined
      return { kind: 'placeholder', origin: stub.origin, seq: stub.seq, stub: e.stub }
    }
    const envelope = readEnvelope(e.signed.payload)
    const { origin, seq } = envelope
    if (!accept(origin) || this.held(origin, seq, false)) return undefined
    verifySignature(e.signed, envelope)
    let payload: EventPayload
    try {
      payload = admit(envelope, this.context)
    } catch (err) {
      if (!(err instanceof SyncProtocolError)) throw err
      return { kind: 'refused', origin, seq, signed: e.signed, reason: err.message, pending: err instanceof ProfilePendingError }
    }
    verifyStub(e.signed, payload)
    const violation = this.violation(payload)
    if (violation != null) return { kind: 'refused', origin, seq, signed: e.signed, reason: violation, pending: false }
    return { kind: 'event', origin, seq, signed: e.signed, payload }
  }

  /**
   * What an event says of a message this device holds that its origin may not say. The views
   * ignore such statuses and assignments whenever they come (materialize.ts); known here,
   * they are also kept unapplied, and logged.
   */
  private violation ({ event, origin }: EventPayload): string | undefined {
    if (event.type !== 'status' && event.type !== 'assign') return undefined
    const message = prepared(this.db, 'SELECT author, via FROM messages WHERE id = ?').get(event.id) as { author: string, via: string | null } | undefined
    if (message == null) return undefined
    if (event.type === 'assign') return origin === message.author ? undefined : 'invalid event: an assignment of another device\'s message'
    // while no proxy has the message, who will carry it is not known yet
    if (message.via == null && event.status !== 'pending' && event.status !== 'received') return undefined
    return maySay(event.status, origin, message) ? undefined : `invalid event: a status (${event.status}) of a message its origin does not carry`
  }

  /** Stored, or on its way into the store; a placeholder does not hold the place against its event. */
  private held (origin: string, seq: number, anyRow: boolean): boolean {
    if (this.ingesting.has(`${origin}/${seq}`)) return true
    const row = this.row(origin, seq)
    return row != null && (anyRow || row.hidden === 0)
  }

  /** Whether a log entry is held in this place, and whether as a placeholder. */
  private row (origin: string, seq: number): { hidden: number } | undefined {
    return prepared(this.db, 'SELECT hidden FROM events WHERE origin = ? AND seq = ?').get(origin, seq) as { hidden: number } | undefined
  }

  private has (origin: string, seq: number): boolean {
    return this.row(origin, seq) != null
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
    const out: Effects = { entries: [], changes: [], refused: [] }
    const results: Array<{ ok: true, value: unknown } | { ok: false, error: Error }> = []
    const tx = this.transaction(out)
    const seqAtStart = this.ownSeq
    try {
      this.db.exec('BEGIN IMMEDIATE')
      for (const item of batch) {
        // a failing write undoes only itself: the others in the batch still commit
        const mark = { entries: out.entries.length, changes: out.changes.length, refused: out.refused.length, seq: this.ownSeq }
        this.db.exec('SAVEPOINT item')
        try {
          results.push({ ok: true, value: item.work(tx) })
          this.db.exec('RELEASE item')
        } catch (err) {
          this.db.exec('ROLLBACK TO item')
          this.db.exec('RELEASE item')
          out.entries.length = mark.entries
          out.changes.length = mark.changes
          out.refused.length = mark.refused
          this.ownSeq = mark.seq
          results.push({ ok: false, error: storageError(err) })
        }
      }
      this.db.exec('COMMIT')
    } catch (err) {
      // BEGIN, a savepoint or COMMIT failed (busy, disk full, I/O): nothing of the batch is kept
      try { this.db.exec('ROLLBACK') } catch {}
      this.ownSeq = seqAtStart
      const error = storageError(err)
      for (const item of batch) item.reject(error)
      return
    }
    batch.forEach((item, i) => {
      const r = results[i]
      if (r?.ok === true) item.resolve(r.value)
      else item.reject(r?.error ?? new Error('write lost'))
    })
    if (out.entries.length > 0) this.emit('entries', out.entries)
    if (out.refused.length > 0) this.emit('refused', out.refused)
    if (out.changes.length > 0) this.emit('changes', out.changes)
  }

  /** Apply an event to the views; a device sees only what is meant for it. */
  private apply (payload: EventPayload, changes: ViewChange[]): void {
    if (payload.audience != null && payload.origin !== this.self && !payload.audience.includes(this.self)) return
    changes.push(...applyEvent(this.db, payload, this.self))
  }

  private transaction (out: Effects): Tx {
    return {
      db: this.db,
      self: this.self,
      append: (event, audience) => {
        const draft: EventPayload = { origin: this.self, seq: this.ownSeq + 1, event }
        if (audience != null) draft.audience = audience
        // the very check every peer will run: what this device writes, they accept
        const admitted = admitText(JSON.stringify(draft), this.context)
        if ('reason' in admitted) throw new InvalidEventError(`this device may not write that event (${admitted.reason})`)
        const signed = this.signer.seal(draft)
        const entry: EventEntry = { kind: 'event', origin: this.self, seq: draft.seq, signed, payload: admitted.payload }
        this.store(entry)
        this.ownSeq = draft.seq
        out.entries.push(entry)
        this.apply(admitted.payload, out.changes)
      },
      ingest: (entry) => {
        if (entry.origin === this.self) return false
        if (!this.store(entry)) return false
        out.entries.push(entry)
        if (entry.kind === 'event') this.apply(entry.payload, out.changes)
        else if (entry.kind === 'refused') out.refused.push(entry)
        return true
      }
    }
  }

  /** Insert one log entry (an event replaces its placeholder) and move its origin's contiguous mark; false if it was there. */
  private store (entry: LogEntry): boolean {
    const { origin, seq } = entry
    const row = this.row(origin, seq)
    const [payload, sig, hidden, refused, stub] = entry.kind === 'placeholder'
      ? [entry.stub?.text ?? '', entry.stub?.sig ?? new Uint8Array(0), 1, null, null]
      : [entry.signed.payload, entry.signed.sig, 0, entry.kind === 'refused' ? entry.reason : null, entry.signed.stub ?? null]
    if (row != null) {
      if (row.hidden === 0 || hidden === 1) return false
      prepared(this.db, 'UPDATE events SET payload = ?, sig = ?, hidden = 0, refused = ?, stub = ? WHERE origin = ? AND seq = ?').run(payload, sig, refused, stub, origin, seq)
      return true
    }
    prepared(this.db, 'INSERT INTO events (origin, seq, payload, sig, hidden, refused, stub) VALUES (?, ?, ?, ?, ?, ?, ?)').run(origin, seq, payload, sig, hidden, refused, stub)
    const setContiguous = prepared(this.db, 'INSERT INTO origins (origin, contiguous) VALUES (?, ?) ON CONFLICT(origin) DO UPDATE SET contiguous = excluded.contiguous')
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

  /**
   * Apply the refused events that the rules now admit (a device's profile arrived after its
   * events did). Their peers had them already: they are not passed on again.
   */
  async reconsider (): Promise<number> {
    const rows = prepared(this.db, 'SELECT origin, seq, payload FROM events WHERE refused IS NOT NULL LIMIT 1000').all() as Array<{ origin: string, seq: number, payload: string }>
    const admitted = rows.flatMap(r => { const a = admitText(r.payload, this.context); return 'payload' in a ? [{ ...r, payload: a.payload }] : [] })
    if (admitted.length === 0) return 0
    const changes: ViewChange[] = []
    await this.write(tx => {
      for (const r of admitted) {
        if (prepared(tx.db, 'UPDATE events SET refused = NULL WHERE origin = ? AND seq = ? AND refused IS NOT NULL').run(r.origin, r.seq).changes > 0) this.apply(r.payload, changes)
      }
    })
    if (changes.length > 0) this.emit('changes', changes)
    return admitted.length
  }

  /** Whether the account removed `device` (as far as this store was told: devicesRemoved). */
  isRemoved (device: string): boolean {
    return prepared(this.db, 'SELECT 1 FROM removed_devices WHERE device = ?').get(device) != null
  }

  /**
   * Devices the account removed (`at`: the removing epoch's time), from its epochs: texts they
   * will never carry or hand to a phone end here (materialize.countingStatuses). Returns how
   * many messages changed; known removals change nothing.
   */
  async devicesRemoved (removals: ReadonlyMap<string, number>): Promise<number> {
    if ([...removals.keys()].every(device => this.isRemoved(device))) return 0
    const changes: ViewChange[] = []
    await this.write(tx => {
      const fresh = [...removals].filter(([device, at]) => prepared(tx.db, 'INSERT OR IGNORE INTO removed_devices (device, at) VALUES (?, ?)').run(device, at).changes > 0)
      for (const [device] of fresh) {
        const open = prepared(tx.db, `SELECT id FROM messages WHERE direction = 'out' AND status IN ('pending', 'accepted')
          AND (via = ? OR (via IS NULL AND author = ?))`).all(device, device) as Array<{ id: string }>
        for (const { id } of open) if (refreshStatus(tx.db, id)) changes.push({ type: 'status', id })
      }
    })
    if (changes.length > 0) this.emit('changes', changes)
    return changes.length
  }

  /** The views of a file written by an older version, built again from its log under today's rules. */
  private rebuildViews (): void {
    const rows = prepared(this.db, 'SELECT origin, seq, payload FROM events WHERE hidden = 0 ORDER BY origin, seq').all() as Array<{ origin: string, seq: number, payload: string }>
    this.db.exec('BEGIN IMMEDIATE')
    try {
      for (const r of rows) {
        const admitted = admitText(r.payload, this.context)
        prepared(this.db, 'UPDATE events SET refused = ? WHERE origin = ? AND seq = ?').run('reason' in admitted ? admitted.reason : null, r.origin, r.seq)
        if ('payload' in admitted) this.apply(admitted.payload, [])
      }
      this.db.exec('COMMIT')
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  versionVector (): VersionVector {
    const rows = prepared(this.db, 'SELECT origin, contiguous FROM origins').all() as Array<{ origin: string, contiguous: number }>
    return Object.fromEntries(rows.map(r => [r.origin, r.contiguous]))
  }

  /** Entries of `origin` after `after`, oldest first, at most `limit`. */
  entriesAfter (origin: string, after: number, limit: number): LogEntry[] {
    const rows = prepared(this.db, 'SELECT seq, payload, sig, hidden, refused, stub FROM events WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?').all(origin, after, limit) as unknown as Row[]
    return rows.map(r => {
      if (r.hidden === 1) return { kind: 'placeholder' as const, origin, seq: r.seq, ...(r.payload === '' ? {} : { stub: { text: r.payload, sig: r.sig } }) }
      const signed: SignedEvent = { payload: r.payload, sig: r.sig, ...(r.stub == null ? {} : { stub: r.stub }) }
      if (r.refused != null) return { kind: 'refused' as const, origin, seq: r.seq, signed, reason: r.refused }
      return { kind: 'event' as const, origin, seq: r.seq, signed, payload: JSON.parse(r.payload) as EventPayload }
    })
  }
}

interface Effects { entries: LogEntry[], changes: ViewChange[], refused: RefusedEntry[] }
