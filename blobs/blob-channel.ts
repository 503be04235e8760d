import type { Logger } from '@libp2p/interface'
import { Priority, type Channel, type ChannelService, type Tunnels } from '../link/index.ts'
import { lengthPrefixed } from '../framing/frames.ts'
import { JsonThenBytesReader } from '../framing/json-then-bytes.ts'
import { BLOB_HASH, type BlobRef, type BlobStore } from './blob-store.ts'
import { BlobProtocolError, BlobUnavailableError } from './errors.ts'

/** The channel on which a device asks another of its account for a blob's bytes. */
export const BLOB_CHANNEL = 'blobs'
/** The request and the answer's header are small JSON frames. */
const MAX_HEADER_BYTES = 4 * 1024
/** A fetch that receives nothing for this long is given up (the tunnel itself survives link changes). */
export const BLOB_IDLE_MS = 30_000

export interface BlobChannelInit {
  store: BlobStore
  tunnels: Pick<Tunnels, 'open'>
  /** May `device` have this blob? (Only blobs of messages it may see.) */
  mayServe(device: string, sha256: string): boolean
  log: Logger
}

const encoder = new TextEncoder()

/**
 * Blobs between devices of one account, on channel BLOB_CHANNEL at bulk priority (an SMS
 * stays quick while a large file moves): the asker sends `{ sha256, offset }`, the holder
 * answers `{ size }` (or `{ error }`) and the bytes from `offset` to the end. The tunnel keeps
 * the bytes across link changes; a fetch cut otherwise goes on from what arrived.
 */
export class BlobChannel {
  private readonly init: BlobChannelInit
  readonly channel: ChannelService

  constructor (init: BlobChannelInit) {
    this.init = init
    this.channel = { name: BLOB_CHANNEL, everyMember: true, serve: (channel) => { void this.serve(channel) } }
  }

  /** Fetch `blob` from `device` into the store (from what arrived before); resolves once it is whole here. */
  async fetch (device: string, blob: BlobRef, signal?: AbortSignal): Promise<void> {
    const { store } = this.init
    if (store.has(blob.sha256)) return
    const offset = await store.received(blob.sha256)
    const channel = await this.init.tunnels.open(device, BLOB_CHANNEL, Priority.BULK)
    const abort = (): void => { channel.reset('fetch given up') }
    signal?.addEventListener('abort', abort, { once: true })
    try {
      await channel.write(lengthPrefixed(encoder.encode(JSON.stringify({ sha256: blob.sha256, offset }))))
      channel.end()
      const bytes = withHeader(idle(channel, BLOB_IDLE_MS), (header) => {
        if (typeof header.error === 'string') throw new BlobUnavailableError(`${device} says: ${header.error.slice(0, 200)}`)
        if (header.size !== blob.size) throw new BlobProtocolError(`${device} holds ${String(header.size)} bytes of it, not ${blob.size}`)
      })
      if (!await store.append(blob, offset, bytes)) throw new BlobUnavailableError(`${device} ended the transfer before the end`)
    } finally {
      signal?.removeEventListener('abort', abort)
      channel.reset()
    }
  }

  private async serve (channel: Channel): Promise<void> {
    try {
      let request: Record<string, unknown> | undefined
      // the asker ends its side after the request: nothing may follow it
      for await (const extra of withHeader(channel, (h) => { request = h })) if (extra.byteLength > 0) throw new BlobProtocolError('bytes after a blob request')
      const sha256 = request?.sha256
      const offset = request?.offset
      if (typeof sha256 !== 'string' || !BLOB_HASH.test(sha256) || !Number.isSafeInteger(offset) || (offset as number) < 0) throw new BlobProtocolError('a malformed blob request')
      const size = this.init.mayServe(channel.device, sha256) ? await this.init.store.size(sha256) : undefined
      if (size == null) {
        await channel.write(lengthPrefixed(encoder.encode(JSON.stringify({ error: 'this device does not have that file' }))))
        return
      }
      if ((offset as number) > size) throw new BlobProtocolError('an offset past the end')
      await channel.write(lengthPrefixed(encoder.encode(JSON.stringify({ size }))))
      for await (const chunk of this.init.store.read(sha256, offset as number)) await channel.write(chunk as Uint8Array)
    } catch (err) {
      this.init.log('a blob request of %s failed - %s', channel.device, (err as Error).message)
      channel.reset('blob request failed')
      return
    }
    channel.end()
  }
}

/**
 * The bytes after a length-prefixed JSON header (given to `check`, which throws to refuse
 * it); a header that is not a JSON object, or too long, is a protocol violation.
 */
export async function * withHeader (source: AsyncIterable<Uint8Array>, check: (header: Record<string, unknown>) => void): AsyncGenerator<Uint8Array> {
  const reader = new JsonThenBytesReader(source, { maxLength: MAX_HEADER_BYTES, violation: (message) => new BlobProtocolError(`blob header: ${message}`) })
  const header = await reader.frame()
  if (header == null) throw new BlobProtocolError('the other side ended before it answered')
  check(header)
  yield * reader.rest()
}

/** The chunks of `source`, failing when none comes for `ms`. */
export async function * idle (source: AsyncIterable<Uint8Array>, ms: number): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  try {
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new BlobUnavailableError(`nothing came for ${ms / 1000} s`)) }, ms) })
      const next = await Promise.race([it.next(), timeout]).finally(() => { clearTimeout(timer) })
      if (next.done === true) return
      yield next.value
    }
  } finally {
    void it.return?.()
  }
}
