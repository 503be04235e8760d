import { CHANNEL_WINDOW, MAX_DATA_PAYLOAD, Priority } from './constants.ts'
import { ChannelError } from './errors.ts'

/** What a channel needs of its tunnel session. */
export interface ChannelHost {
  /** Something became sendable (data, credit, a close). */
  wake(): void
  /** The application read `bytes`: give the sender that much more credit. */
  grant(channel: number, bytes: number): void
  /** The application ended its side (queue a CLOSE once the data is out) or reset the channel. */
  reset(channel: number, reason: string): void
  /** A channel is finished both ways: forget it. */
  finished(channel: number): void
}

type State = 'opening' | 'open' | 'failed' | 'done'

/**
 * One application channel inside a tunnel, as the services above see it: ordered bytes both
 * ways, with its own flow control (a slow reader stalls only its own channel) and a priority.
 * Read with `for await`, write with `write()`, which waits while this channel's send buffer
 * is full.
 */
export interface Channel extends AsyncIterable<Uint8Array> {
  readonly id: number
  readonly name: string
  readonly priority: Priority
  /** The device at the other end. */
  readonly device: string
  /** Both sides have it open, and neither reset it. */
  readonly open: boolean
  /** Queue bytes for the other side (not copied: don't change them afterwards). */
  write(data: Uint8Array): Promise<void>
  /** No more writes from this side; reading goes on until the other side ends too. */
  end(): void
  /** Drop the channel both ways at once. */
  reset(reason?: string): void
}

/** A channel as its tunnel session drives it: the application's side plus what the session calls. */
export class TunnelChannel implements Channel {
  readonly id: number
  readonly name: string
  readonly priority: Priority
  /** The device at the other end. */
  readonly device: string
  private readonly host: ChannelHost
  private state: State = 'opening'
  private failure?: ChannelError
  // sending
  private readonly out: Uint8Array[] = []
  private outBytes = 0
  private credit = CHANNEL_WINDOW
  private ending = false
  private closeSent = false
  private readonly writers: Array<() => void> = []
  // receiving
  private readonly inbox: Uint8Array[] = []
  private inboxBytes = 0
  private remoteEnded = false
  private reader?: () => void
  private unreportedReads = 0

  constructor (init: { id: number, name: string, priority: Priority, device: string, host: ChannelHost }) {
    this.id = init.id
    this.name = init.name
    this.priority = init.priority
    this.device = init.device
    this.host = init.host
  }

  get open (): boolean {
    return this.state === 'open'
  }

  /**
   * Queue bytes for the other side; resolves once they fit in this channel's buffer. The bytes
   * are not copied: they are sent (and kept until acknowledged) as they are, so don't change
   * them afterwards.
   */
  async write (data: Uint8Array): Promise<void> {
    if (this.ending) throw new ChannelError(`channel ${this.name} was ended for writing`)
    for (let at = 0; at < data.byteLength; at += MAX_DATA_PAYLOAD) {
      while (this.outBytes >= CHANNEL_WINDOW && this.failure == null) await new Promise<void>(resolve => this.writers.push(resolve))
      if (this.failure != null) throw this.failure
      const chunk = data.subarray(at, at + MAX_DATA_PAYLOAD)
      this.out.push(chunk)
      this.outBytes += chunk.byteLength
      this.host.wake()
    }
  }

  /** No more writing from this side; the other side reads to the end, then its loop finishes. */
  end (): void {
    if (this.ending || this.failure != null) return
    this.ending = true
    this.host.wake()
  }

  /** Abort both ways; the other side's reads and writes fail with `reason`. */
  reset (reason = 'reset by the application'): void {
    if (this.state === 'failed' || this.state === 'done') return
    this.fail(new ChannelError(reason))
    this.host.reset(this.id, reason)
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    while (true) {
      const chunk = this.inbox.shift()
      if (chunk != null) {
        this.inboxBytes -= chunk.byteLength
        this.unreportedReads += chunk.byteLength
        // grant in halves of the window: few WINDOW frames, and the sender still has half a
        // window to send while the grant travels
        if (this.unreportedReads >= CHANNEL_WINDOW / 2 && this.failure == null) {
          this.host.grant(this.id, this.unreportedReads)
          this.unreportedReads = 0
        }
        yield chunk
        continue
      }
      if (this.failure != null) throw this.failure
      if (this.remoteEnded) {
        this.maybeFinished()
        return
      }
      await new Promise<void>(resolve => { this.reader = resolve })
    }
  }

  // ---- the session's side

  /** The other side accepted the open. */
  opened (): void {
    if (this.state === 'opening') this.state = 'open'
    this.host.wake()
  }

  /** Whether this channel has something the scheduler may send now. */
  sendable (): boolean {
    if (this.state !== 'open') return false
    return (this.outBytes > 0 && this.credit > 0) || (this.ending && this.outBytes === 0 && !this.closeSent)
  }

  /** The next DATA payload (bounded by credit), or 'close' when everything was sent and the app ended. */
  take (): Uint8Array | 'close' | undefined {
    if (this.outBytes === 0) {
      if (this.ending && !this.closeSent) {
        this.closeSent = true
        this.maybeFinished()
        return 'close'
      }
      return undefined
    }
    const head = this.out[0] as Uint8Array
    const size = Math.min(head.byteLength, this.credit)
    if (size <= 0) return undefined
    const chunk = head.subarray(0, size)
    if (size === head.byteLength) this.out.shift()
    else this.out[0] = head.subarray(size)
    this.outBytes -= size
    this.credit -= size
    this.writers.splice(0).forEach(w => { w() })
    return chunk
  }

  /** Data arrived. Returns false when the sender overran its window (a protocol violation). */
  deliver (payload: Uint8Array): boolean {
    if (this.failure != null || this.remoteEnded) return true // late data for a dead channel: dropped
    this.inbox.push(payload)
    this.inboxBytes += payload.byteLength
    this.wakeReader()
    return this.inboxBytes <= CHANNEL_WINDOW
  }

  credited (bytes: number): void {
    this.credit += bytes
    this.host.wake()
  }

  remoteClosed (): void {
    this.remoteEnded = true
    this.wakeReader()
    this.maybeFinished()
  }

  fail (error: ChannelError): void {
    if (this.state === 'failed' || this.state === 'done') return
    this.state = 'failed'
    this.failure = error
    this.out.length = 0
    this.outBytes = 0
    this.writers.splice(0).forEach(w => { w() })
    this.wakeReader()
    this.host.finished(this.id)
  }

  private wakeReader (): void {
    const reader = this.reader
    this.reader = undefined
    reader?.()
  }

  private maybeFinished (): void {
    if (this.state === 'open' && this.closeSent && this.remoteEnded && this.inbox.length === 0) {
      this.state = 'done'
      this.host.finished(this.id)
    }
  }
}
