import type { Logger } from '@libp2p/interface'
import type { BlobChannel } from '../blobs/blob-channel.ts'
import { formatBytes, type BlobStore } from '../blobs/blob-store.ts'
import { checkAttachments, MAX_ATTACHMENT_BYTES, TYPE, safeName } from './attachment-shape.ts'
import { BlobUnavailableError } from '../blobs/errors.ts'
import { InvalidSmsError } from './errors.ts'
import { prepared } from './materialize.ts'
import type { ViewChange } from './materialize.ts'
import type { SmsStore } from './store.ts'
import type { Attachment } from './view-types.ts'

/** Attachments up to this size come to every device of the account at once; larger ones when opened. */
export const FETCH_AT_ONCE_BYTES = 4 * 1024 * 1024
/** Another account's files not (yet) named by a text of it: at most this much of one account, and of all. */
export const MAX_PENDING_PER_ACCOUNT = 100 * 1024 * 1024
export const MAX_PENDING_BYTES = 256 * 1024 * 1024
/** Files no message names (an upload never sent, a push never followed by its text) are deleted after this. */
export const UNNAMED_BLOB_MS = 24 * 60 * 60_000

export interface AttachmentsInit {
  store: SmsStore
  blobs: BlobStore
  channel: BlobChannel
  /** Members with a tunnel now, best first; a fetch asks them in turn. */
  reachable(): string[]
  log: Logger
}

/**
 * Files of texts device to device: uploads, which blobs messages name, fetching them from the
 * account's devices (small ones at once, large ones when opened), what another account may
 * push here, and deleting files no message names.
 */
export class Attachments {
  private readonly init: AttachmentsInit
  private readonly fetching = new Map<string, Promise<void>>()
  private readonly waiting = new Set<string>()
  private stopped = false

  private readonly onChanges = (changes: ViewChange[]): void => {
    const ids = changes.filter(c => c.type === 'message').map(c => c.id)
    if (ids.length > 0) this.fetchSmall(ids)
  }

  constructor (init: AttachmentsInit) {
    this.init = init
  }

  async start (): Promise<void> {
    await this.init.blobs.init()
    this.init.store.on('changes', this.onChanges)
    await this.sweep().catch(err => { this.init.log.error('could not delete unnamed files - %e', err) })
    this.retry()
  }

  stop (): void {
    this.stopped = true
    this.init.store.off('changes', this.onChanges)
  }

  /** A file for a text: stored by its hash; what a send names it by. */
  async upload (source: AsyncIterable<Uint8Array>, name: string, type: string): Promise<Attachment> {
    const ref = await this.init.blobs.put(source, MAX_ATTACHMENT_BYTES)
    return checkAttachments([{ ...ref, name: safeName(name), type: TYPE.test(type) ? type : 'application/octet-stream' }], (what) => { throw new InvalidSmsError(what) })[0] as Attachment
  }

  /** The attachments a send names, each stored here whole (its size from the store). */
  async prepare (list: unknown): Promise<Attachment[]> {
    if (!Array.isArray(list)) throw new InvalidSmsError('attachments must be a list of uploaded files')
    const sized = await Promise.all(list.map(async (a: unknown) => {
      const sha256 = (a as { sha256?: unknown } | null)?.sha256
      const size = typeof sha256 === 'string' ? await this.init.blobs.size(sha256) : undefined
      if (size == null) throw new InvalidSmsError(`attachment ${String(sha256).slice(0, 12)} is not stored here: upload it first (POST /v1/attachments)`)
      return { ...(a as object), size }
    }))
    return checkAttachments(sized, (what) => { throw new InvalidSmsError(what) })
  }

  has (sha256: string): boolean {
    return this.init.blobs.has(sha256)
  }

  /** May a member have this blob: a message here names it. */
  named (sha256: string): boolean {
    return prepared(this.init.store.db, 'SELECT 1 FROM message_attachments WHERE sha256 = ?').get(sha256) != null
  }

  /** The attachment `index` of message `id`, whole here (fetched from a device of the account if it is not). */
  async open (id: string, index: number, signal: AbortSignal): Promise<Attachment & { path: string }> {
    const row = this.filesOf(id)
    const list = row?.attachments == null ? [] : JSON.parse(row.attachments) as Attachment[]
    const attachment = list[index]
    if (row == null || attachment == null) throw new InvalidSmsError(`message ${id} has no attachment ${index}`)
    await this.fetch(attachment, [row.via, row.author], signal)
    return { ...attachment, path: this.init.blobs.path(attachment.sha256) }
  }

  /** A message's files (JSON) and the devices that may hold them (who stored it, who wrote it). */
  private filesOf (id: string): { attachments: string | null, author: string, via: string | null } | undefined {
    return prepared(this.init.store.db, 'SELECT attachments, author, via FROM messages WHERE id = ?').get(id) as { attachments: string | null, author: string, via: string | null } | undefined
  }

  /** Fetch a blob from the account's devices (`first` asked first); one fetch per blob at a time. */
  private async fetch (blob: Attachment, first: Array<string | null>, signal?: AbortSignal): Promise<void> {
    if (this.init.blobs.has(blob.sha256)) return
    const running = this.fetching.get(blob.sha256)
    if (running != null) { await running; return }
    const work = (async () => {
      const reachable = this.init.reachable()
      const devices = [...new Set([...first.filter((d): d is string => d != null && reachable.includes(d)), ...reachable])]
      const reasons: string[] = []
      for (const device of devices) {
        try {
          await this.init.channel.fetch(device, blob, signal)
          return
        } catch (err) {
          reasons.push(`${device.slice(-8)}: ${(err as Error).message}`)
        }
      }
      throw new BlobUnavailableError(devices.length === 0 ? 'no device of the account that may hold it is reachable now' : `no reachable device gave it (${reasons.join('; ').slice(0, 300)})`)
    })().finally(() => { this.fetching.delete(blob.sha256) })
    this.fetching.set(blob.sha256, work)
    await work
  }

  /** New messages: their small attachments come here at once. */
  private fetchSmall (ids: string[]): void {
    for (const id of ids) {
      const row = this.filesOf(id)
      if (row?.attachments == null) continue
      for (const a of JSON.parse(row.attachments) as Attachment[]) {
        if (a.size > FETCH_AT_ONCE_BYTES || this.init.blobs.has(a.sha256)) continue
        this.fetch(a, [row.via, row.author]).then(() => { this.waiting.delete(id) }, (err: Error) => {
          this.waiting.add(id)
          this.init.log('attachment %s of %s not fetched yet - %s', a.sha256.slice(0, 12), id, err.message)
        })
      }
    }
  }

  /** A device came: fetch the small attachments still missing (of the newest messages that have any). */
  retry (): void {
    if (this.stopped) return
    const rows = prepared(this.init.store.db, 'SELECT DISTINCT id FROM message_attachments ORDER BY rowid DESC LIMIT 200').all() as Array<{ id: string }>
    this.fetchSmall([...new Set([...this.waiting, ...rows.map(r => r.id)])])
  }

  /**
   * May `account` (another, proven) push this blob here: it is bound to a number here, the file
   * is within the limit, and what it pushed that no text names yet stays within its share.
   */
  async admitPush (account: string, blob: { sha256: string, size: number }): Promise<void> {
    const { db } = this.init.store
    if (prepared(db, 'SELECT 1 FROM numbers WHERE account = ?').get(account) == null) throw new InvalidSmsError('your number is not verified here: text it by SMS once (companion numbers verify)')
    if (blob.size > MAX_ATTACHMENT_BYTES) throw new InvalidSmsError(`a file is at most ${formatBytes(MAX_ATTACHMENT_BYTES)}`)
    const pending = (who: string | null): number => (prepared(db, `SELECT COALESCE(SUM(size), 0) AS n FROM blob_pushes p WHERE (? IS NULL OR account = ?) AND sha256 != ?
      AND NOT EXISTS (SELECT 1 FROM message_attachments a WHERE a.sha256 = p.sha256)`).get(who, who, blob.sha256) as { n: number }).n
    if (pending(account) + blob.size > MAX_PENDING_PER_ACCOUNT) throw new InvalidSmsError(`too many files from your account wait for their texts here (${formatBytes(MAX_PENDING_PER_ACCOUNT)}); send the texts first`)
    if (pending(null) + blob.size > MAX_PENDING_BYTES) throw new InvalidSmsError('this device holds too many files waiting for their texts; try later')
    await this.init.store.write(tx => { prepared(tx.db, 'INSERT OR IGNORE INTO blob_pushes (sha256, account, size, at) VALUES (?, ?, ?, ?)').run(blob.sha256, account, blob.size, Date.now()) })
  }

  /** Delete files no message names that are older than UNNAMED_BLOB_MS (uploads never sent, pushes whose text never came). */
  async sweep (): Promise<number> {
    const old = Date.now() - UNNAMED_BLOB_MS
    let removed = 0
    for (const blob of await this.init.blobs.list()) {
      if (blob.mtimeMs > old || this.named(blob.sha256)) continue
      await this.init.blobs.remove(blob.sha256)
      removed++
    }
    await this.init.store.write(tx => { prepared(tx.db, 'DELETE FROM blob_pushes WHERE at < ?').run(old) })
    if (removed > 0) this.init.log('deleted %d files no message names', removed)
    return removed
  }
}
