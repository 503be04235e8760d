/**
 * Fuzz targets for files between devices: what another account's device (or a stranger)
 * pushes on `/companion/blob/1.0.0`, mutated requests and pieces, and the header of the
 * `blobs` channel. Every push gets an answer or a reset stream, nothing escapes, and every
 * file the store holds whole is exactly the bytes of its name.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { lpStream, streamPair } from '@libp2p/utils'
import { BlobStore } from '../../blobs/blob-store.ts'
import { withHeader } from '../../blobs/blob-channel.ts'
import { BlobProtocolError } from '../../blobs/errors.ts'
import { BlobPush } from '../../node/blob-push.ts'
import { NumberClaimError } from '../../node/errors.ts'
import { Attachments } from '../../sms/attachments.ts'
import type { BlobChannel } from '../../blobs/blob-channel.ts'
import { InvalidSmsError } from '../../sms/errors.ts'
import { lengthPrefixed } from '../../framing/frames.ts'
import { pick } from '../../testbed/sms-events.ts'
import { smsDevice } from '../../testbed/sms-store.ts'
import { mutateBytes, mutateJson } from './mutate.ts'
import { account, FIXED_ADDRESSES } from './number-targets.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'

let runs = 0
const encoder = new TextEncoder()
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export const blobPush: FuzzTarget = {
  name: 'blobs',
  async run (random, inputs, dir) {
    const run = runs++
    const ana = await account(join(dir, `blob-ana-${run}`))
    const ben = await account(join(dir, `blob-ben-${run}`))
    const log = await smsDevice(dir, `blob-log-${run}`)
    await log.store.write(tx => { tx.append({ type: 'binding', number: '+15550100001', account: ana.store.id, at: Date.now() }) })
    const blobs = new BlobStore(join(dir, `blob-store-${run}`))
    await blobs.init()
    const files = new Attachments({ store: log.store, blobs, channel: undefined as unknown as BlobChannel, reachable: () => [], log: logger('fuzz:blobs') })
    const receiver = new BlobPush({ dialProtocol: async () => { throw new Error('not used') }, handle: async () => {}, unhandle: async () => {} }, {
      account: ben.store,
      store: () => blobs,
      admit: async (sender, blob) => { await files.admitPush(sender.account, blob).catch((err: Error) => { throw err instanceof InvalidSmsError ? new NumberClaimError(err.message) : err }) },
      log: logger('fuzz:blobs')
    })
    const identity = { cert: Buffer.from(ana.store.certificate).toString('base64'), chain: Buffer.from(ana.store.chainRecord).toString('base64') }
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    try {
      for (let i = 0; i < inputs; i++) {
        // a small file, its pieces, and a request for it: each mutated now and then
        const content = randomBytes(1 + Math.floor(random() * 3000))
        const valid = { sha256: sha(content), size: content.byteLength, ...identity }
        const request = random() < 0.7 ? valid : { ...(mutateJson(random, valid) as Record<string, unknown>) }
        const raw = random() < 0.1
        const requestBytes = raw ? mutateBytes(random, encoder.encode(JSON.stringify(valid))) : encoder.encode(JSON.stringify(request))
        const pieces: Uint8Array[] = []
        for (let at = 0; at < content.byteLength;) {
          const n = 1 + Math.floor(random() * 1500)
          pieces.push(content.subarray(at, at + n))
          at += n
        }
        if (random() < 0.3) {
          const k = Math.floor(random() * pieces.length)
          pieces[k] = mutateBytes(random, pieces[k] ?? new Uint8Array(1))
        }
        const [mine, theirs] = await streamPair(FIXED_ADDRESSES)
        const served = receiver.serve(theirs, random() < 0.9 ? ana.device : ben.device)
        const lp = lpStream(mine)
        let outcome: 'stored' | 'refused' = 'refused'
        try {
          await lp.write(requestBytes)
          // what we send ends here: a receiver waiting for more sees the end, not a silence
          const end = (): void => { void mine.close().catch(() => {}) }
          if (raw) end()
          const answer = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray())) as Record<string, unknown>
          if (typeof answer.error === 'string') outcome = 'refused'
          else if (Number.isSafeInteger(answer.have)) {
            for (const piece of pieces) if (piece.byteLength > 0) await lp.write(piece)
            end()
            const done = JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(5_000) })).subarray())) as Record<string, unknown>
            outcome = done.stored === true ? 'stored' : 'refused'
          } else throw new FuzzFinding(`input ${i}: an answer that is neither a refusal nor an offset: ${JSON.stringify(answer).slice(0, 200)}`)
        } catch (err) {
          if (err instanceof FuzzFinding) throw err
          // the receiver reset the stream: a refusal
          mine.abort(err as Error)
        }
        await served
        if (outcome === 'stored') stats.accepted++
        else stats.refused++
      }
      // whatever came, a whole file is exactly the bytes its name says
      for (const blob of await blobs.list()) {
        if (!blob.partial && sha(readFileSync(blobs.path(blob.sha256))) !== blob.sha256) throw new FuzzFinding(`${blob.sha256} holds other bytes`)
      }
    } finally {
      log.store.close()
    }
    return stats
  }
}

/** The `blobs` channel's header: a JSON object behind a length, then bytes; anything else is BlobProtocolError. */
export const blobHeader: FuzzTarget = {
  name: 'blob-header',
  async run (random, inputs) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const corpus = [{ sha256: 'a'.repeat(64), offset: 0 }, { size: 1234 }, { error: 'not here' }]
    for (let i = 0; i < inputs; i++) {
      const valid = lengthPrefixed(encoder.encode(JSON.stringify(pick(random, corpus))))
      const bytes = random() < 0.5 ? valid : mutateBytes(random, valid)
      const tail = randomBytes(Math.floor(random() * 64))
      async function * source (): AsyncGenerator<Uint8Array> {
        const all = Buffer.concat([bytes, tail])
        for (let at = 0; at < all.byteLength;) { const n = 1 + Math.floor(random() * 16); yield all.subarray(at, at + n); at += n }
      }
      try {
        let header: Record<string, unknown> | undefined
        const rest: Uint8Array[] = []
        for await (const chunk of withHeader(source(), (h) => { header = h })) rest.push(chunk)
        if (header == null) throw new FuzzFinding(`input ${i}: bytes came without a header`)
        stats.accepted++
      } catch (err) {
        if (err instanceof BlobProtocolError) { stats.refused++; continue }
        throw new FuzzFinding(`input ${i}: ${(err as Error).name}: ${(err as Error).message}`)
      }
    }
    return stats
  }
}

export const BLOB_TARGETS: FuzzTarget[] = [blobPush, blobHeader]
