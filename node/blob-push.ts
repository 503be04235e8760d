import type { AbortOptions, Logger, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { jsonObject } from '../framing/json-object.ts'
import { BLOB_HASH, type BlobRef, type BlobStore } from '../blobs/blob-store.ts'
import { BlobMismatchError, BlobProtocolError, BlobUnavailableError } from '../blobs/errors.ts'
import type { AccountStore } from './identity/account.ts'
import { provenIdentity } from './number-claims.ts'
import { NumberClaimError } from './errors.ts'

/** Between devices of different accounts: the files a text device to device carries, pushed before it. */
export const BLOB_PUSH_PROTOCOL = '/companion/blob/1.0.0'
/** A piece of a file on it (and the requests: a certificate and an epoch chain fit). */
export const MAX_BLOB_PIECE_BYTES = 64 * 1024
/** A push that moves nothing for this long is given up (and goes on later from what arrived). */
export const BLOB_PUSH_IDLE_MS = 20_000

/** A blob of a text, as the pusher names it. */
export interface PushedBlob extends BlobRef { }

/** The sender as the connection and its certificate proved it. */
export interface BlobSender { account: string, device: string, epoch: number }

export interface BlobPushComponents {
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>
  handle(protocol: string, handler: (stream: Stream, connection: { remotePeer: PeerId }) => void | Promise<void>, options?: { maxInboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
}

export interface BlobPushInit {
  account: AccountStore
  /** Where files are kept (the SMS service's store, which exists once the daemon started it). */
  store(): BlobStore
  /** May this sender push this blob here (a bound account, within its share)? Throws NumberClaimError with the reason. */
  admit(sender: BlobSender, blob: PushedBlob): Promise<void>
  log: Logger
}

const encoder = new TextEncoder()
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/**
 * Files to another account's device, before the text that names them: the pusher sends
 * `{ sha256, size, cert, chain }`, the receiver answers `{ have }` (bytes it holds of it
 * already: a push cut by a link change goes on from there) or `{ error }`, the pusher sends
 * the rest in pieces, the receiver answers `{ stored: true }` once the hash matched.
 */
export class BlobPush {
  private readonly components: BlobPushComponents
  private readonly init: BlobPushInit

  constructor (components: BlobPushComponents, init: BlobPushInit) {
    this.components = components
    this.init = init
  }

  async start (): Promise<void> {
    await this.components.handle(BLOB_PUSH_PROTOCOL, async (stream, connection) => { await this.serve(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 4 })
  }

  async stop (): Promise<void> {
    await this.components.unhandle(BLOB_PUSH_PROTOCOL).catch(() => {})
  }

  /** Push `blob` (whole in this device's store) to `peer`; resolves once it is whole there. */
  async push (peer: PeerId, blob: PushedBlob, signal: AbortSignal): Promise<void> {
    const step = (): AbortSignal => AbortSignal.any([signal, AbortSignal.timeout(BLOB_PUSH_IDLE_MS)])
    const stream = await this.components.dialProtocol(peer, BLOB_PUSH_PROTOCOL, { signal: step() })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_BLOB_PIECE_BYTES })
      await lp.write(encoder.encode(JSON.stringify({ sha256: blob.sha256, size: blob.size, cert: b64(this.init.account.certificate), chain: b64(this.init.account.chainRecord) })), { signal: step() })
      const answer = parse((await lp.read({ signal: step() })).subarray())
      if (typeof answer.error === 'string') throw new NumberClaimError(`the recipient's device refused the file: ${answer.error.slice(0, 200)}`)
      const have = answer.have
      if (!Number.isSafeInteger(have) || (have as number) < 0 || (have as number) > blob.size) throw new BlobProtocolError('the recipient\'s device answered a malformed offset')
      if ((have as number) < blob.size) {
        for await (const chunk of this.init.store().read(blob.sha256, have as number)) {
          const bytes = chunk as Buffer
          for (let at = 0; at < bytes.byteLength; at += MAX_BLOB_PIECE_BYTES) await lp.write(bytes.subarray(at, at + MAX_BLOB_PIECE_BYTES), { signal: step() })
        }
      }
      const done = parse((await lp.read({ signal: step() })).subarray())
      if (typeof done.error === 'string') throw new BlobUnavailableError(`the recipient's device did not keep the file: ${done.error.slice(0, 200)}`)
      if (done.stored !== true) throw new BlobProtocolError('the recipient\'s device did not say it stored the file')
      await stream.close({ signal: step() }).catch(() => {})
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /** Take one push on a stream from `remote` (what the protocol handler does; the fuzz target feeds it). */
  async serve (stream: Stream, remote: string): Promise<void> {
    const step = (): AbortSignal => AbortSignal.timeout(BLOB_PUSH_IDLE_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_BLOB_PIECE_BYTES })
    const answer = async (value: Record<string, unknown>): Promise<void> => { await lp.write(encoder.encode(JSON.stringify(value)), { signal: step() }) }
    try {
      const request = parse((await lp.read({ signal: step() })).subarray())
      let blob: PushedBlob
      let offset: number
      try {
        const { sha256, size } = request
        if (typeof sha256 !== 'string' || !BLOB_HASH.test(sha256) || !Number.isSafeInteger(size) || (size as number) <= 0) throw new NumberClaimError('a malformed file')
        blob = { sha256, size: size as number }
        await this.init.admit(await provenIdentity(request, remote), blob)
        offset = await this.init.store().received(sha256)
        if (offset > blob.size) throw new NumberClaimError('this device holds a longer file of that hash')
      } catch (err) {
        if (!(err instanceof NumberClaimError)) this.init.log.error('taking a file from %s failed - %e', remote, err)
        await answer({ error: err instanceof NumberClaimError ? err.message : 'this device could not take it' })
        await stream.close({ signal: step() })
        return
      }
      await answer({ have: offset })
      if (offset < blob.size) {
        try {
          await this.init.store().append(blob, offset, pieces(lp))
        } catch (err) {
          // bytes that are not the file's: said, and the stream ends (what came is dropped)
          if (err instanceof BlobMismatchError) await answer({ error: err.message }).catch(() => {})
          throw err
        }
      }
      await answer({ stored: true })
      await stream.close({ signal: step() })
    } catch (err) {
      this.init.log('a file from %s was cut - %s', remote, (err as Error).message)
      stream.abort(err as Error)
    }
  }
}

/** The pieces that follow the answer, each read within BLOB_PUSH_IDLE_MS. */
async function * pieces (lp: ReturnType<typeof lpStream>): AsyncGenerator<Uint8Array> {
  while (true) {
    const piece = (await lp.read({ signal: AbortSignal.timeout(BLOB_PUSH_IDLE_MS) })).subarray()
    if (piece.byteLength === 0) throw new BlobProtocolError('an empty piece')
    yield piece
  }
}

function parse (bytes: Uint8Array): Record<string, unknown> {
  const value = jsonObject(bytes)
  if (value == null) throw new BlobProtocolError('not a JSON object')
  return value
}
