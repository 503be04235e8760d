import { createHash, subtle, type Hash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { link, mkdir, open, readdir, stat, statfs, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@libp2p/interface'
import type { Channel } from '../link/index.ts'
import { formatBytes } from '../blobs/blob-ref.ts'
import { ABANDONED_PARTIAL_MS, chunkSizeFor, FREE_SPACE_MARGIN_BYTES, MAX_SHARE_TEXT_CHARS, PARTIAL_NAME, type ShareView } from './constants.ts'
import { ShareProtocolError } from './errors.ts'
import { freeName, sanitizeName } from './names.ts'
import type { ShareStore } from './share-store.ts'
import { ChannelReader, frame } from './wire.ts'

export interface ShareReceiverInit {
  store: ShareStore
  /** Where received files land (`--downloads`). */
  downloads: string
  /** The largest file taken (`--share-max`). */
  maxBytes: number
  /** May this member share with this device (the `share` grant)? */
  may(device: string): boolean
  changed(view: ShareView): void
  log: Logger
}

/** A file's header as the sender sends it (its time: the same file shared again goes on from what arrived). */
interface FileHeader { id: string, name: string, size: number, mtime: number, chunk: number }

/** Written to disk at most this often while a file arrives (the bytes verified so far). */
const PROGRESS_WRITE_MS = 1_000
/** Arriving bytes are flushed to disk this often, so that the flush at the end is short. */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024
const HEX64 = /^[0-9a-f]{64}$/
const ID = /^[A-Za-z0-9-]{8,64}$/

/**
 * The receiving side of channel `share`: checks the grant, the size limit and the free space,
 * says how much of the file it holds already (a partial file beside the downloads, its
 * pieces verified again), verifies every piece as it lands, and renames the file into the
 * downloads only once its SHA-256 matches: never outside that directory, never over another file.
 */
export class ShareReceiver {
  private readonly init: ShareReceiverInit
  /** Partial files being written now: one writer each. */
  private readonly writing = new Set<string>()

  constructor (init: ShareReceiverInit) {
    this.init = init
  }

  /**
   * Delete partial files no transfer added to for ABANDONED_PARTIAL_MS, and their piece
   * hashes; a sender that comes back later starts that file again. Returns how many went.
   */
  async sweep (now = Date.now()): Promise<number> {
    const { downloads, store } = this.init
    const names = await readdir(downloads).catch(() => [] as string[])
    let removed = 0
    for (const name of names) {
      const key = PARTIAL_NAME.exec(name)?.[1]
      if (key == null) continue
      const path = join(downloads, name)
      if (this.writing.has(path)) continue
      const info = await stat(path).catch(() => undefined)
      if (info == null || !info.isFile() || now - info.mtimeMs < ABANDONED_PARTIAL_MS) continue
      await unlink(path).catch(() => {})
      store.dropFile(key)
      removed++
    }
    if (removed > 0) this.init.log('deleted %d abandoned partial files from %s', removed, downloads)
    return removed
  }

  async serve (channel: Channel): Promise<void> {
    const reader = new ChannelReader(channel)
    const answer = async (value: Record<string, unknown>): Promise<void> => { await channel.write(frame(value)) }
    try {
      const header = await reader.frame()
      if (header == null) return
      if (!this.init.may(channel.device)) {
        await answer({ error: 'this device does not take shares from yours (share); its owner can allow it: companion grant <your device> share' })
        return
      }
      if (header.kind === 'text') await this.text(channel.device, header, answer)
      else await this.file(channel.device, checkHeader(header), reader, answer)
    } catch (err) {
      this.init.log('a share from %s failed - %s', channel.device, (err as Error).message)
      if (err instanceof ShareProtocolError) await answer({ error: err.message }).catch(() => {})
      channel.reset('share failed')
      return
    }
    channel.end()
  }

  private async text (device: string, header: Record<string, unknown>, answer: (v: Record<string, unknown>) => Promise<void>): Promise<void> {
    const { id, text } = header
    if (typeof id !== 'string' || !ID.test(id) || typeof text !== 'string' || text === '' || text.length > MAX_SHARE_TEXT_CHARS) throw new ShareProtocolError('a malformed snippet')
    const view = this.init.store.add({ id, device, direction: 'in', kind: 'text', name: text.split('\n')[0]?.slice(0, 80) ?? 'text', size: text.length, path: null, text, state: 'done' })
    this.init.store.update(id, device, 'in', { state: 'done', bytes: text.length })
    this.init.changed({ ...view, state: 'done', bytes: text.length })
    await answer({ done: true })
  }

  private async file (device: string, h: FileHeader, reader: ChannelReader, answer: (v: Record<string, unknown>) => Promise<void>): Promise<void> {
    const { downloads, store } = this.init
    const name = sanitizeName(h.name)
    if (h.size > this.init.maxBytes) { await answer({ error: `${name} is ${formatBytes(h.size)}; this device takes files up to ${formatBytes(this.init.maxBytes)} (--share-max)` }); return }
    await mkdir(downloads, { recursive: true })
    // the same file (name, size, time) from the same device goes on from what arrived, whatever its transfer id
    const key = createHash('sha256').update(`${h.name}\n${h.size}\n${h.mtime}`).digest('hex').slice(0, 16)
    const partial = join(downloads, `.companion-${device.slice(-8)}-${key}.part`)
    const pieces = new Pieces(store, device, key)
    if (this.writing.has(partial)) { await answer({ error: 'this file is arriving from your device already' }); return }
    this.writing.add(partial)
    let fh: FileHandle | undefined
    try {
      fh = await open(partial, existsSync(partial) ? 'r+' : 'w+', 0o600)
      const { have, whole } = await verifiedPrefix(fh, h, pieces.load())
      await fh.truncate(have)
      pieces.keep(have / h.chunk)
      const free = await statfs(downloads).then(s => s.bavail * s.bsize, () => Number.MAX_SAFE_INTEGER)
      if (free < h.size - have + FREE_SPACE_MARGIN_BYTES) {
        // nothing arrived yet: no trace of it
        if (have === 0) { await unlink(partial).catch(() => {}); pieces.remove() }
        await answer({ error: `not enough free space for ${name}: ${formatBytes(h.size - have)} needed, ${formatBytes(free)} free` })
        return
      }
      const view = store.add({ id: h.id, device, direction: 'in', kind: 'file', name, size: h.size, path: null, text: null, state: 'sending' })
      store.update(h.id, device, 'in', { state: 'sending', bytes: have, reason: null })
      this.init.changed({ ...view, state: 'sending', bytes: have })
      await answer({ have })
      const at = await this.receive(fh, h, have, whole, pieces, reader, answer, (bytes) => { this.progress(h, device, view, bytes) })
      const end = at < h.size ? undefined : await reader.frame()
      if (end == null) {
        // the sender went away: what arrived stays for the next try
        store.update(h.id, device, 'in', { state: 'paused', bytes: at, reason: 'the sending device went away; it goes on from here' })
        this.init.changed({ ...view, state: 'paused', bytes: at })
        return
      }
      if (end.sha256 !== whole.digest('hex')) {
        await unlink(partial).catch(() => {})
        pieces.remove()
        throw new ShareProtocolError('the file\'s SHA-256 is not what the sender says: dropped; share it again')
      }
      await fh.sync()
      await fh.close()
      fh = undefined
      const final = await place(partial, downloads, name)
      pieces.remove()
      store.update(h.id, device, 'in', { state: 'done', bytes: h.size, path: final, reason: null })
      this.init.changed({ ...view, state: 'done', bytes: h.size, path: final })
      await answer({ done: true, name: final.slice(downloads.length + 1) })
    } catch (err) {
      const full = (err as NodeJS.ErrnoException).code === 'ENOSPC'
      const reason = full ? `the disk is full on this device: ${formatBytes(await stat(partial).then(st => st.size, () => 0))} of ${name} kept, to go on once there is room` : (err as Error).message
      store.update(h.id, device, 'in', { state: 'failed', reason })
      const now = store.get(h.id, device, 'in')
      if (now != null) this.init.changed(now)
      if (full) { await answer({ error: reason }).catch(() => {}); return }
      throw err
    } finally {
      await fh?.close().catch(() => {})
      this.writing.delete(partial)
    }
  }

  private lastWrite = 0
  private progress (h: FileHeader, device: string, view: ShareView, bytes: number): void {
    const now = Date.now()
    if (now - this.lastWrite >= PROGRESS_WRITE_MS) {
      this.lastWrite = now
      this.init.store.update(h.id, device, 'in', { bytes })
    }
    this.init.changed({ ...view, state: 'sending', bytes })
  }

  /**
   * Take the file's bytes as they come, a piece at a time: each whole piece is hashed (the
   * hash kept, to check the partial file against on a resume), written in one go and
   * said (`{ at }`); the disk is flushed every SYNC_EVERY_BYTES while bytes keep coming, so
   * the last flush is short. The offset reached (whole pieces only).
   */
  private async receive (fh: FileHandle, h: FileHeader, have: number, whole: Hash, pieces: Pieces, reader: ChannelReader, answer: (v: Record<string, unknown>) => Promise<void>, progress: (bytes: number) => void): Promise<number> {
    let pos = have
    let index = have / h.chunk
    const length = (i: number): number => Math.min(h.chunk, h.size - i * h.chunk)
    // one buffer for every piece (written and hashed before the next is filled): a fresh 1 MiB
    // each time is a mapping made and unmade per piece, and external memory that calls for GCs
    const buffer = Buffer.allocUnsafe(Math.min(h.chunk, h.size - have))
    let piece = buffer.subarray(0, length(index))
    let filled = 0
    let unsynced = 0
    let syncing: Promise<void> | undefined
    try {
      for await (const data of reader.bytes(h.size - have)) {
        let off = 0
        while (off < data.byteLength) {
          const take = Math.min(data.byteLength - off, piece.byteLength - filled)
          piece.set(data.subarray(off, off + take), filled)
          filled += take
          off += take
          if (filled < piece.byteLength) continue
          // the piece's own hash on the thread pool, beside the write (the input is copied at
          // the call); the whole file's here, on this thread
          const digest = subtle.digest('SHA-256', piece)
          whole.update(piece)
          let written = 0
          while (written < piece.byteLength) written += (await fh.write(piece, written, piece.byteLength - written, pos + written)).bytesWritten
          pieces.add(Buffer.from(await digest).toString('hex'))
          pos += piece.byteLength
          unsynced += piece.byteLength
          if (unsynced >= SYNC_EVERY_BYTES && syncing == null) {
            unsynced = 0
            syncing = fh.datasync().finally(() => { syncing = undefined })
          }
          index++
          filled = 0
          if (pos < h.size) piece = buffer.subarray(0, length(index))
          await answer({ at: pos })
          progress(pos)
        }
      }
    } finally {
      await syncing
    }
    return pos
  }
}

/**
 * The hashes of the pieces of a file arriving, kept in shares.db as each piece is written:
 * what a resume checks the partial file against, piece by piece, before it goes on from there.
 */
class Pieces {
  private count = 0
  private readonly store: ShareStore
  private readonly device: string
  private readonly file: string

  constructor (store: ShareStore, device: string, file: string) {
    this.store = store
    this.device = device
    this.file = file
  }

  load (): string[] {
    const hashes = this.store.pieces(this.device, this.file)
    this.count = hashes.length
    return hashes
  }

  /** Only the first `count` held (the partial file was checked that far). */
  keep (count: number): void {
    this.store.dropPieces(this.device, this.file, count)
    this.count = count
  }

  add (hash: string): void {
    this.store.addPiece(this.device, this.file, this.count++, hash)
  }

  remove (): void {
    this.store.dropPieces(this.device, this.file, 0)
  }
}

/** Check a file header completely. */
function checkHeader (h: Record<string, unknown>): FileHeader {
  const { id, name, size, mtime, chunk } = h
  if (h.kind !== 'file' || typeof id !== 'string' || !ID.test(id) || typeof name !== 'string' || name.length > 1024 || !Number.isSafeInteger(size) || (size as number) < 0 ||
    typeof mtime !== 'number' || !Number.isFinite(mtime) || mtime < 0 || chunk !== chunkSizeFor(size as number)) throw new ShareProtocolError('a malformed file header')
  return { id, name, size: size as number, mtime, chunk: chunk as number }
}

/** The bytes of a partial file that are whole pieces matching the hashes kept for it (and their running SHA-256). */
async function verifiedPrefix (fh: FileHandle, h: FileHeader, hashes: string[]): Promise<{ have: number, whole: Hash }> {
  const whole = createHash('sha256')
  const size = (await fh.stat()).size
  let have = 0
  for (let i = 0; i < hashes.length; i++) {
    const len = Math.min(h.chunk, h.size - i * h.chunk)
    if (len <= 0 || have + len > size) break
    const buf = Buffer.allocUnsafe(len)
    const { bytesRead } = await fh.read(buf, 0, len, have)
    if (bytesRead < len || createHash('sha256').update(buf).digest('hex') !== hashes[i]) break
    whole.update(buf)
    have += len
  }
  return { have, whole }
}

/** Move the verified file into the downloads under a free name (never over another file: link fails if the name is taken). */
async function place (partial: string, dir: string, name: string): Promise<string> {
  for (;;) {
    const target = join(dir, freeName(dir, name))
    try {
      await link(partial, target)
      await unlink(partial)
      return target
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
}
