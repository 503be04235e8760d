import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { EventSigner } from '../sms/signed-events.ts'
import { SmsStore, type IncomingEntry, type LogEntry } from '../sms/store.ts'
import { fromWire, toWire } from '../sms/sync-wire.ts'
import { encodeJsonFrame, readJsonFrames } from '../sms/json-frames.ts'

/** SQLite's own result codes, as node:sqlite reports them. */
export const SQLITE_BUSY = { errcode: 5, errstr: 'database is locked' }
export const SQLITE_FULL = { errcode: 13, errstr: 'database or disk is full' }
export const SQLITE_IOERR = { errcode: 10, errstr: 'disk I/O error' }

/**
 * A real SQLite file whose BEGIN or COMMIT fails on demand with the error SQLite gives (the
 * failing statement is not run), for the faults a disk and other processes cause.
 */
export class FaultyDatabase extends DatabaseSync {
  private faults: Array<{ statement: 'BEGIN' | 'COMMIT', error: { errcode: number, errstr: string } }> = []

  /** The next `times` statements starting with `statement` fail with `error`. */
  fail (statement: 'BEGIN' | 'COMMIT', error: { errcode: number, errstr: string }, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push({ statement, error })
  }

  get pendingFaults (): number {
    return this.faults.length
  }

  override exec (sql: string): void {
    const fault = this.faults[0]
    if (fault != null && sql.startsWith(fault.statement)) {
      this.faults.shift()
      throw Object.assign(new Error(fault.error.errstr), { code: 'ERR_SQLITE_ERROR', ...fault.error })
    }
    super.exec(sql)
  }
}

export interface TestSmsDevice { key: PrivateKey, id: string, store: SmsStore, db: FaultyDatabase }

/** A device's SMS store in `dir`; `hasBackend` says which devices have an SMS backend (undefined: not known yet). */
export async function smsDevice (dir: string, name: string, hasBackend: (device: string) => boolean | undefined = () => true): Promise<TestSmsDevice> {
  const key = await generateKeyPair('Ed25519')
  const id = peerIdFromPrivateKey(key).toString()
  let db: FaultyDatabase | undefined
  const store = new SmsStore({ path: join(dir, `${name}.db`), self: id, signer: new EventSigner(key), hasBackend, open: (path) => (db = new FaultyDatabase(path)) })
  if (db == null) throw new Error('the store did not open its file')
  return { key, id, store, db }
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

/** Log entries as the sync channel carries them to `to`: the wire form for that device, framed, read back and parsed. */
export async function throughWire (entries: LogEntry[], to: string): Promise<IncomingEntry[]> {
  const frames = entries.flatMap(e => { const w = toWire(e, to); return w == null ? [] : [encodeJsonFrame(w)] })
  const out: IncomingEntry[] = []
  for await (const batch of readJsonFrames(once(Buffer.concat(frames)))) for (const value of batch) { const e = fromWire(value); if (e != null) out.push(e) }
  return out
}

/** Everything `from` holds of `origins` (all when absent), as the sync channel carries it to `to`. */
export async function wireEntries (from: SmsStore, to: string, origins?: string[]): Promise<IncomingEntry[]> {
  return await throughWire((origins ?? Object.keys(from.versionVector())).flatMap(origin => from.entriesAfter(origin, 0, 100_000)), to)
}

/** Replicate from one store to another as a sync feed would. */
export async function replicate (from: SmsStore, to: SmsStore, origins?: string[]): Promise<number> {
  return await to.ingest(await wireEntries(from, to.self, origins), () => true)
}
