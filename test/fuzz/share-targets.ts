/**
 * Fuzz target for what another device of the account sends on channel `share`: headers,
 * bytes and the closing hash, mutated. Nothing escapes the receiver, nothing lands outside
 * its downloads directory, and a file that lands holds exactly the bytes whose SHA-256 the
 * sender named.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import type { Channel } from '../../link/index.ts'
import { Priority } from '../../link/index.ts'
import { ShareReceiver } from '../../share/receiver.ts'
import { ShareStore } from '../../share/share-store.ts'
import { chunkSizeFor } from '../../share/constants.ts'
import { frame } from '../../share/wire.ts'
import { pick } from '../../testbed/sms-events.ts'
import { mutateBytes, mutateJson } from './mutate.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'

let runs = 0
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const DEVICE = '12D3KooWB13Eqjj5kmNvrh2YkquHUsFeKvAhnASkUha9zhZzUhQs'

/** A channel that delivers `input` in pieces of random size and keeps what is written back. */
function channelOf (input: Uint8Array, random: () => number): Channel & { written: Uint8Array[] } {
  const written: Uint8Array[] = []
  return {
    id: 1,
    name: 'share',
    priority: Priority.BULK,
    device: DEVICE,
    open: true,
    written,
    async write (data: Uint8Array) { written.push(data) },
    end () {},
    reset () {},
    async * [Symbol.asyncIterator] () {
      for (let at = 0; at < input.byteLength;) {
        const n = 1 + Math.floor(random() * 8192)
        yield input.subarray(at, at + n)
        at += n
      }
    }
  }
}

export const share: FuzzTarget = {
  name: 'share',
  async run (random, inputs, dir) {
    const run = runs++
    const root = join(dir, `share-${run}`)
    const downloads = join(root, 'downloads')
    mkdirSync(downloads, { recursive: true })
    const store = new ShareStore(join(root, 'shares.db'))
    const receiver = new ShareReceiver({ store, downloads, maxBytes: 1024 * 1024, may: () => true, changed: () => {}, log: logger('fuzz:share') })
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const names = ['photo.jpg', '../../.bashrc', '/etc/passwd', 'a\u0000b', '..', 'x'.repeat(300), 'notes (1).txt']
    try {
      for (let i = 0; i < inputs; i++) {
        const content = randomBytes(Math.floor(random() * 3000))
        const header = random() < 0.1
          ? { v: 1, id: `text-${run}-${i}`, kind: 'text', text: 'a link https://example.org' }
          : { v: 1, id: `file-${run}-${i}`, kind: 'file', name: pick(random, names), size: content.byteLength, mtime: i, chunk: chunkSizeFor(content.byteLength) }
        const parts = [
          frame(random() < 0.7 ? header : mutateJson(random, header) as Record<string, unknown>),
          random() < 0.8 ? content : mutateBytes(random, content),
          frame({ sha256: sha(content) })
        ]
        let bytes = Buffer.concat(parts)
        if (random() < 0.15) bytes = Buffer.from(mutateBytes(random, bytes))
        // a directory of thousands of files would make every listing slow: start a fresh one now and then
        if (i % 500 === 499) { rmSync(downloads, { recursive: true, force: true }); mkdirSync(downloads) }
        const before = new Set(readdirSync(downloads))
        const channel = channelOf(bytes, random)
        try {
          await receiver.serve(channel)
        } catch (err) {
          throw new FuzzFinding(`input ${i}: ${(err as Error).name} escaped: ${(err as Error).message}`)
        }
        const answers = Buffer.concat(channel.written).toString('latin1')
        for (const name of readdirSync(downloads)) {
          if (before.has(name) || name.startsWith('.')) continue
          const got = sha(readFileSync(join(downloads, name)))
          if (!bytes.toString('latin1').includes(got)) throw new FuzzFinding(`input ${i}: ${name} landed with bytes whose SHA-256 the sender never named`)
        }
        if (answers.includes('"done":true')) stats.accepted++
        else stats.refused++
      }
      const outside = readdirSync(root).filter(n => !['downloads', 'shares.db', 'shares.db-wal', 'shares.db-shm'].includes(n))
      if (outside.length > 0) throw new FuzzFinding(`files outside the downloads: ${outside.join(', ')}`)
    } finally {
      store.close()
    }
    return stats
  }
}

export const SHARE_TARGETS: FuzzTarget[] = [share]
