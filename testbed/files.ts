import { createHash, randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'

/** A file of `size` random bytes (written a MiB at a time) and its SHA-256. */
export async function bigFile (path: string, size: number): Promise<{ path: string, sha256: string }> {
  const hash = createHash('sha256')
  const fh = await open(path, 'w')
  try {
    for (let at = 0; at < size; at += 1024 * 1024) {
      const piece = randomBytes(Math.min(1024 * 1024, size - at))
      hash.update(piece)
      await fh.write(piece)
    }
  } finally {
    await fh.close()
  }
  return { path, sha256: hash.digest('hex') }
}
