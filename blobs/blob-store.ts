import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, type ReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { BlobMismatchError, BlobTooLargeError } from './errors.ts'

import { BLOB_HASH, formatBytes, type BlobRef } from './blob-ref.ts'

export { BLOB_HASH, formatBytes, type BlobRef }

/** Bytes are written to disk in pieces of at most this much (a slow disk does not hold a huge buffer). */
const WRITE_PIECE = 1024 * 1024

/**
 * Files stored by the SHA-256 of their bytes, in one directory (`<data-dir>/blobs`): a blob is
 * either whole and verified (`<sha256>`), or arriving (`partial/<sha256>`, its bytes so far,
 * so a transfer cut by a link change or a restart goes on from there). A whole blob is only
 * ever made by renaming a file whose hash was checked, so a name always matches its bytes.
 */
export class BlobStore {
  readonly dir: string

  constructor (dir: string) {
    this.dir = dir
  }

  async init (): Promise<void> {
    await mkdir(join(this.dir, 'partial'), { recursive: true, mode: 0o700 })
    await mkdir(join(this.dir, 'tmp'), { recursive: true, mode: 0o700 })
    // an upload cut by a crash left only a temporary file nobody names
    for (const name of await readdir(join(this.dir, 'tmp'))) await rm(join(this.dir, 'tmp', name), { force: true })
  }

  path (sha256: string): string {
    if (!BLOB_HASH.test(sha256)) throw new TypeError('not a SHA-256 in hex')
    return join(this.dir, sha256)
  }

  has (sha256: string): boolean {
    return BLOB_HASH.test(sha256) && existsSync(join(this.dir, sha256))
  }

  /** The size of a whole blob held here; undefined when it is not. */
  async size (sha256: string): Promise<number | undefined> {
    if (!BLOB_HASH.test(sha256)) return undefined
    return await stat(join(this.dir, sha256)).then(s => s.size, () => undefined)
  }

  /** Store the bytes of `source` (at most `limit`), whatever their hash; the blob they make. */
  async put (source: AsyncIterable<Uint8Array>, limit: number): Promise<BlobRef> {
    const temp = join(this.dir, 'tmp', randomBytes(12).toString('hex'))
    const hash = createHash('sha256')
    const file = await open(temp, 'wx', 0o600)
    let size = 0
    try {
      for await (const chunk of source) {
        size += chunk.byteLength
        if (size > limit) throw new BlobTooLargeError(`a file is at most ${formatBytes(limit)}`)
        hash.update(chunk)
        await writeAll(file, chunk)
      }
      await file.sync()
    } catch (err) {
      await file.close()
      await rm(temp, { force: true })
      throw err
    }
    await file.close()
    const sha256 = hash.digest('hex')
    await rename(temp, join(this.dir, sha256))
    return { sha256, size }
  }

  /** Bytes of `sha256` that have arrived so far (its size when it is whole here). */
  async received (sha256: string): Promise<number> {
    const whole = await this.size(sha256)
    if (whole != null) return whole
    return await stat(join(this.dir, 'partial', sha256)).then(s => s.size, () => 0)
  }

  /**
   * Add bytes of `blob` from `offset` (what `received` said) as they come; once `blob.size`
   * bytes are there and their hash is `blob.sha256` it becomes whole (true). Bytes past its
   * size, or a hash that does not match (the partial bytes are dropped: the next try starts
   * over), throw.
   */
  async append (blob: BlobRef, offset: number, source: AsyncIterable<Uint8Array>): Promise<boolean> {
    if (this.has(blob.sha256)) return true
    const partial = join(this.dir, 'partial', this.name(blob.sha256))
    const file = await open(partial, 'a', 0o600)
    let size: number
    try {
      size = (await file.stat()).size
      if (size !== offset) throw new BlobMismatchError(`${size} bytes of ${blob.sha256.slice(0, 12)} are here, not ${offset}`)
      for await (const chunk of source) {
        if (size + chunk.byteLength > blob.size) throw new BlobMismatchError(`more than the ${blob.size} bytes of ${blob.sha256.slice(0, 12)}`)
        await writeAll(file, chunk)
        size += chunk.byteLength
        if (size === blob.size) break
      }
      await file.sync()
    } finally {
      await file.close()
    }
    if (size < blob.size) return false
    if (await hashOf(partial) !== blob.sha256) {
      await rm(partial, { force: true })
      throw new BlobMismatchError(`the bytes that came are not those of ${blob.sha256.slice(0, 12)}: dropped, to be sent again`)
    }
    await rename(partial, join(this.dir, blob.sha256))
    return true
  }

  /** The bytes of a whole blob from `offset`. */
  read (sha256: string, offset = 0): ReadStream {
    return createReadStream(this.path(sha256), { start: offset, highWaterMark: 64 * 1024 })
  }

  async remove (sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true })
    await rm(join(this.dir, 'partial', sha256), { force: true })
  }

  /** Blobs whole and arriving, with their size and when they last changed. */
  async list (): Promise<Array<{ sha256: string, size: number, mtimeMs: number, partial: boolean }>> {
    const out: Array<{ sha256: string, size: number, mtimeMs: number, partial: boolean }> = []
    for (const partial of [false, true]) {
      const dir = partial ? join(this.dir, 'partial') : this.dir
      for (const name of await readdir(dir).catch(() => [])) {
        if (!BLOB_HASH.test(name)) continue
        const s = await stat(join(dir, name)).catch(() => undefined)
        if (s?.isFile() === true) out.push({ sha256: name, size: s.size, mtimeMs: s.mtimeMs, partial })
      }
    }
    return out
  }

  private name (sha256: string): string {
    if (!BLOB_HASH.test(sha256)) throw new TypeError('not a SHA-256 in hex')
    return sha256
  }
}

async function writeAll (file: import('node:fs/promises').FileHandle, chunk: Uint8Array): Promise<void> {
  for (let at = 0; at < chunk.byteLength; at += WRITE_PIECE) {
    const piece = chunk.subarray(at, Math.min(chunk.byteLength, at + WRITE_PIECE))
    let written = 0
    while (written < piece.byteLength) written += (await file.write(piece, written)).bytesWritten
  }
}

/** The SHA-256 of a file's bytes, in hex. */
export async function hashOf (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
