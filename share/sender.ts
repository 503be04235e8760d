import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import type { Logger } from '@libp2p/interface'
import { Priority, type Channel, type Tunnels } from '../link/index.ts'
import { Backoff } from '../sms/backoff.ts'
import { SHARE_CHANNEL, SHARE_RETRY_MAX_MS, SHARE_RETRY_MIN_MS, type ShareView } from './constants.ts'
import { InvalidShareError, ShareProtocolError, ShareRefusedError } from './errors.ts'
import type { Outgoing, ShareStore } from './share-store.ts'
import { ChannelReader, frame } from './wire.ts'

export interface ShareSenderInit {
  store: ShareStore
  tunnels: Pick<Tunnels, 'open' | 'reachable'>
  /** A transfer changed (state, bytes): for the event stream and the CLI's progress. */
  changed(view: ShareView): void
  log: Logger
}

/** Progress is written to disk at most this often (the bytes the other side verified). */
const PROGRESS_WRITE_MS = 1_000
/** The source file's size and time are checked again this often (in pieces). */
const CHECK_EVERY = 16

/**
 * The sending side: every transfer not finished is carried to its device when the device is
 * reachable (a tunnel), one at a time per device, from what the device holds already; a
 * transfer that could not go on waits (paused) and is tried again when the tunnel comes back.
 * Each piece is read and hashed again as it goes: a file changed since it was shared fails.
 */
export class ShareSender {
  private readonly init: ShareSenderInit
  private readonly active = new Map<string, Channel | undefined>()
  private readonly retry = new Backoff(SHARE_RETRY_MIN_MS, SHARE_RETRY_MAX_MS)
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false

  constructor (init: ShareSenderInit) {
    this.init = init
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    for (const channel of this.active.values()) channel?.reset('the daemon stops')
  }

  /** New transfers, or a device came back: carry what can go now. */
  kick (): void {
    if (this.stopped) return
    let waiting = false
    const busy = new Set([...this.active.keys()].map(k => k.split(' ')[1]))
    for (const t of this.init.store.pending()) {
      if (this.active.has(key(t)) || busy.has(t.device)) continue
      if (!this.init.tunnels.reachable(t.device)) {
        waiting = true
        if (t.state !== 'paused') this.set(t, { state: 'paused', reason: 'the device is not reachable now; it goes on when it is' })
        continue
      }
      busy.add(t.device)
      this.active.set(key(t), undefined)
      void this.send(t).then(() => { this.retry.reset() }, (err: Error) => {
        if (err instanceof ShareRefusedError || err instanceof InvalidShareError) {
          this.set(t, { state: 'failed', reason: err.message.slice(0, 300) })
        } else {
          waiting = true
          this.set(t, { state: 'paused', reason: `interrupted (${err.message.slice(0, 200)}); it goes on from where it was` })
          this.later()
        }
      }).finally(() => {
        this.active.delete(key(t))
        this.kick()
      })
    }
    if (waiting) this.later()
  }

  /** Stop a transfer: it ends failed("cancelled"); the other device keeps what arrived. */
  cancel (t: ShareView): void {
    this.active.get(key(t))?.reset('cancelled')
    this.set(t, { state: 'failed', reason: 'cancelled' })
  }

  private later (): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.kick() }, this.retry.next())
    this.timer.unref()
  }

  private set (t: ShareView, change: { state?: ShareView['state'], bytes?: number, reason?: string | null }): void {
    const current = this.init.store.get(t.id, t.device, 'out')
    // a cancelled transfer stays cancelled whatever its last step says
    if (current == null || (current.state === 'failed' && change.state !== undefined && change.state !== 'failed')) return
    this.init.store.update(t.id, t.device, 'out', change)
    this.init.changed({ ...current, ...change, reason: change.reason === undefined ? current.reason : change.reason })
  }

  private async send (t: ShareView): Promise<void> {
    const channel = await this.init.tunnels.open(t.device, SHARE_CHANNEL, Priority.BULK)
    this.active.set(key(t), channel)
    const reader = new ChannelReader(channel)
    try {
      if (t.kind === 'text') {
        await channel.write(frame({ v: 1, id: t.id, kind: 'text', text: t.text ?? '' }))
        await this.outcome(t, reader)
        return
      }
      const file = this.init.store.outgoing(t.id, t.device)
      if (file == null) throw new InvalidShareError('the transfer is gone')
      await channel.write(frame({ v: 1, id: t.id, kind: 'file', name: file.name, size: file.size, mtime: file.mtime, chunk: file.chunk }))
      const first = await reader.frame()
      if (first == null) throw new ShareProtocolError('the device ended the transfer before it answered')
      if (typeof first.error === 'string') throw new ShareRefusedError(`${t.device.slice(-8)} says: ${first.error}`)
      const have = first.have
      if (!Number.isSafeInteger(have) || (have as number) < 0 || (have as number) > file.size || ((have as number) % file.chunk !== 0 && have !== file.size)) throw new ShareProtocolError('a malformed offset')
      this.set(t, { state: 'sending', bytes: have as number, reason: null })
      let failure: Error | undefined
      const writing = this.pieces(channel, file, have as number).catch((err: Error) => { failure = err; channel.reset('the sender failed') })
      try {
        await this.outcome(t, reader)
      } catch (err) {
        throw failure ?? err
      } finally {
        await writing
      }
    } finally {
      channel.reset()
    }
  }

  /**
   * Send the bytes from `have`, then the file's SHA-256 (`{ sha256 }`), hashed as they go (on
   * a resume the bytes before `have` are read and hashed first). The file must still be what
   * was shared: its size and time are checked at the start and every CHECK_EVERY pieces, and
   * the receiver keeps the file only if the SHA-256 matches.
   */
  private async pieces (channel: Channel, file: Outgoing, have: number): Promise<void> {
    const fh = await open(file.path ?? '', 'r').catch(() => { throw new InvalidShareError(`${file.path ?? ''} is gone: share it again`) })
    const unchanged = async (): Promise<void> => {
      const now = await fh.stat()
      if (now.size !== file.size || now.mtimeMs !== file.mtime) throw new InvalidShareError(`${file.path ?? ''} changed since it was shared: share it again`)
    }
    const whole = createHash('sha256')
    const read = async (at: number, length: number): Promise<Buffer> => {
      const piece = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const { bytesRead } = await fh.read(piece, got, length - got, at + got)
        if (bytesRead === 0) throw new InvalidShareError(`${file.path ?? ''} changed since it was shared: share it again`)
        got += bytesRead
      }
      return piece
    }
    try {
      await unchanged()
      for (let at = 0; at < have; at += file.chunk) whole.update(await read(at, Math.min(file.chunk, have - at)))
      const pieceAt = (i: number): Promise<Buffer> | undefined => {
        if (i * file.chunk >= file.size) return undefined
        const reading = read(i * file.chunk, Math.min(file.chunk, file.size - i * file.chunk))
        reading.catch(() => {}) // (awaited below; a write that fails first leaves it unawaited)
        return reading
      }
      // the next piece is read from disk while this one goes out
      let next = pieceAt(Math.floor(have / file.chunk))
      for (let i = Math.floor(have / file.chunk), n = 0; next != null; i++, n++) {
        if (n % CHECK_EVERY === CHECK_EVERY - 1) await unchanged()
        const piece = await next
        next = pieceAt(i + 1)
        whole.update(piece)
        await channel.write(piece)
      }
      await unchanged()
      await channel.write(frame({ sha256: whole.digest('hex') }))
    } finally {
      await fh.close()
    }
  }

  /** The receiver's answers until it says the file (or snippet) is stored. */
  private async outcome (t: ShareView, reader: ChannelReader): Promise<void> {
    let written = 0
    for (;;) {
      const answer = await reader.frame()
      if (answer == null) throw new ShareProtocolError('the device ended the transfer before the end')
      if (typeof answer.error === 'string') throw new ShareRefusedError(`${t.device.slice(-8)} says: ${answer.error}`)
      if (answer.done === true) {
        this.set(t, { state: 'done', bytes: t.size, reason: null })
        return
      }
      if (Number.isSafeInteger(answer.at)) {
        const now = Date.now()
        // the bytes the other side verified: the CLI's progress at once, the disk now and then
        if (now - written >= PROGRESS_WRITE_MS) { written = now; this.set(t, { bytes: answer.at as number }) } else this.init.changed({ ...t, state: 'sending', bytes: answer.at as number })
      }
    }
  }
}

const key = (t: { id: string, device: string }): string => `${t.id} ${t.device}`
