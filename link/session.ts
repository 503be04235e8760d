import type { Logger, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameReader } from '../framing/frames.ts'
import { ACK_BULK_DELAY_MS, ACK_BYTES, ACK_DELAY_MS, INTERACTIVE_RECENT_MS, MAX_BULK_INFLIGHT, MAX_CHANNELS, MAX_CONTROL_BACKLOG, MAX_FRAME, MAX_INFLIGHT, OPEN_TIMEOUT_MS, Priority, FrameType, TUNNEL_GRACE_MS } from './constants.ts'
import { TunnelChannel, type Channel, type ChannelHost } from './channel.ts'
import { ChannelError, TunnelProtocolError } from './errors.ts'
import { decodeFrame, encodeDataHeader, encodeFrame, type Frame, type Unsequenced } from './frames.ts'

/** Decides on a channel the other side opens: return the handler, or throw to refuse. */
export type OpenHandler = (name: string, priority: Priority) => (channel: Channel) => void

export interface SessionInit {
  /** The other device. */
  device: string
  /** The lower device id opens tunnel streams and odd channel ids. */
  initiator: boolean
  id: Uint8Array
  onOpen: OpenHandler
  log: Logger
  /** @default TUNNEL_GRACE_MS */
  graceMs?: number
  /** The session moved data (a write or a read): its links are watched closely for a while. */
  onActivity?: () => void
}

/** A sequenced frame kept until acknowledged: its bytes in one or two parts (a DATA header and payload). */
interface Pending { seq: number, parts: Uint8Array[], bytes: number, control: boolean }

/**
 * Frames are written together up to this many bytes. Each write costs a muxer frame, Noise
 * messages and a system call at both ends; bulk stops at MAX_BULK_INFLIGHT while an
 * interactive channel is busy, so a large write only happens when nothing waits behind it.
 */
const SEND_BATCH = 1024 * 1024

/**
 * The tunnel session with one device: it outlives the streams (links) it rides on. Every frame
 * but ACK carries a sequence number and stays buffered until acknowledged; on a new stream both
 * sides say what they received and the rest is sent again, so nothing is lost, duplicated or
 * reordered. Frames go out control first, then interactive channels, then bulk, with at most
 * MAX_INFLIGHT unacknowledged bytes so bulk never queues far ahead of interactive frames.
 */
export class TunnelSession implements ChannelHost {
  readonly device: string
  private sessionId: Uint8Array
  private readonly initiator: boolean
  private readonly onOpen: OpenHandler
  private readonly log: Logger
  private readonly graceMs: number
  private readonly onActivity: () => void
  private readonly channels = new Map<number, TunnelChannel>()
  private nextChannel: number
  private nextSeq = 1
  /** Highest sequence number received (and processed) from the other side. */
  received = 0
  private unacked: Pending[] = []
  private unackedBytes = 0
  /** Control frames among the unacknowledged ones (the rest is data, bounded by MAX_INFLIGHT). */
  private unackedControl = 0
  private resend: Pending[] = []
  private readonly control: Array<Unsequenced> = []
  private readonly opening = new Map<number, PromiseWithResolvers<void>>()
  private ackDue = false
  private bytesSinceAck = 0
  private ackTimer?: ReturnType<typeof setTimeout>
  private graceTimer?: ReturnType<typeof setTimeout>
  private stream?: Stream
  private wakeup?: () => void
  /** Per priority class, the id of the channel served last. */
  private readonly lastServed = [0, 0, 0]
  private closed = false
  /** When an interactive channel last moved data either way (bulk yields to it for a while). */
  private interactiveAt = -Infinity
  /** Set when the grace period ran out with no link; cleared when a link returns. */
  private linkLost?: string
  private wasAttached = false

  constructor (init: SessionInit) {
    this.device = init.device
    this.sessionId = init.id
    this.initiator = init.initiator
    this.onOpen = init.onOpen
    this.log = init.log
    this.graceMs = init.graceMs ?? TUNNEL_GRACE_MS
    this.onActivity = init.onActivity ?? (() => {})
    this.nextChannel = init.initiator ? 1 : 2
  }

  get id (): Uint8Array {
    return this.sessionId
  }

  /** A responder's session made before the other side ever connected takes the initiator's id. */
  adopt (id: Uint8Array): void {
    if (this.established) throw new Error('only a session that never had a stream can take another id')
    this.sessionId = id
  }

  /**
   * Has this session ever had a stream (so the other side knows its sequence numbers)? One
   * that has not may still hold queued frames: they start at 1, which any fresh peer accepts.
   */
  get established (): boolean {
    return this.wasAttached
  }

  get attached (): boolean {
    return this.stream != null
  }

  /** Open a channel by name; resolves once the other side accepted it. */
  async open (name: string, priority: Priority = Priority.INTERACTIVE): Promise<Channel> {
    if (this.closed) throw new ChannelError('the tunnel is closed')
    if (this.linkLost != null && this.stream == null) throw new ChannelError(this.linkLost)
    if (this.channels.size >= MAX_CHANNELS) throw new ChannelError(`at most ${MAX_CHANNELS} channels per device`)
    const id = this.nextChannel
    this.nextChannel += 2
    const channel = new TunnelChannel({ id, name, priority, device: this.device, host: this })
    this.channels.set(id, channel)
    const answer = Promise.withResolvers<void>()
    this.opening.set(id, answer)
    this.queue({ type: FrameType.OPEN, channel: id, priority, name })
    const timer = setTimeout(() => { answer.reject(new ChannelError(`the device did not answer the open of ${name} within ${OPEN_TIMEOUT_MS / 1000} s`)) }, OPEN_TIMEOUT_MS)
    try {
      await answer.promise
    } catch (err) {
      this.channels.delete(id)
      channel.fail(err as ChannelError)
      throw err
    } finally {
      clearTimeout(timer)
      this.opening.delete(id)
    }
    return channel
  }

  /**
   * Ride a new stream. `peerReceived` is what the other side has of ours: everything after it
   * is sent again, first, in order. A previous stream is left to drain and then closed.
   */
  attach (stream: Stream, peerReceived: number, source: AsyncIterator<Uint8Array | Uint8ArrayList>, rest: Uint8Array): void {
    const previous = this.stream
    this.stream = stream
    this.wasAttached = true
    if (this.graceTimer != null) clearTimeout(this.graceTimer)
    this.graceTimer = undefined
    this.linkLost = undefined
    this.acknowledged(peerReceived)
    this.resend = [...this.unacked]
    this.ackDue = true
    if (previous != null && previous !== stream) void previous.close().catch(() => { previous.abort(new Error('replaced')) })
    void this.read(stream, source, rest)
    void this.pump(stream)
  }

  /** The stream under us failed: wait for another for the grace period, then fail the channels. */
  detach (stream: Stream): void {
    if (this.stream !== stream) return
    this.stream = undefined
    this.wake()
    if (this.graceTimer != null || this.closed) return
    this.graceTimer = setTimeout(() => {
      this.graceTimer = undefined
      if (this.stream != null) return
      this.linkLost = `no link to the device for ${Math.round(this.graceMs / 1000)} s`
      this.failChannels(this.linkLost)
    }, this.graceMs)
    this.graceTimer.unref()
  }

  /** End the session: every channel fails with `reason`. */
  close (reason: string): void {
    this.closed = true
    this.failChannels(reason)
    if (this.graceTimer != null) clearTimeout(this.graceTimer)
    if (this.ackTimer != null) clearTimeout(this.ackTimer)
    const stream = this.stream
    this.stream = undefined
    this.wake()
    void stream?.close().catch(() => { stream.abort(new Error('closed')) })
  }

  private failChannels (reason: string): void {
    for (const channel of this.channels.values()) channel.fail(new ChannelError(reason))
    for (const waiting of this.opening.values()) waiting.reject(new ChannelError(reason))
    this.channels.clear()
  }

  // ---- ChannelHost

  wake (): void {
    const wakeup = this.wakeup
    this.wakeup = undefined
    wakeup?.()
  }

  grant (channel: number, bytes: number): void {
    // an acknowledgement that is due soon rides the same write as the credit
    if (this.bytesSinceAck > 0) this.ackDue = true
    this.queue({ type: FrameType.WINDOW, channel, credit: bytes })
  }

  reset (channel: number, reason: string): void {
    this.channels.delete(channel)
    this.queue({ type: FrameType.RESET, channel, reason })
  }

  finished (channel: number): void {
    this.channels.delete(channel)
  }

  // ---- sending

  private queue (frame: Unsequenced): void {
    this.control.push(frame)
    this.wake()
  }

  private sequence (frame: Unsequenced): Pending {
    return this.keep([encodeFrame({ ...frame, seq: this.nextSeq } as Frame)], true)
  }

  /** A DATA frame: its header beside the payload, which is sent (and kept) without a copy. */
  private sequenceData (channel: number, payload: Uint8Array): Pending {
    return this.keep([encodeDataHeader(this.nextSeq, channel, payload.byteLength), payload], false)
  }

  private keep (parts: Uint8Array[], control: boolean): Pending {
    const pending = { seq: this.nextSeq++, parts, bytes: parts.reduce((sum, part) => sum + part.byteLength, 0), control }
    this.unacked.push(pending)
    this.unackedBytes += pending.bytes
    if (control) this.unackedControl++
    return pending
  }

  /** The next frame to send, by priority; undefined when there is nothing (or no room). */
  private next (): Pending | Uint8Array | undefined {
    const again = this.resend.shift()
    if (again != null) return again
    if (this.ackDue) {
      this.ackDue = false
      this.bytesSinceAck = 0
      return encodeFrame({ type: FrameType.ACK, received: this.received })
    }
    const control = this.control.shift()
    if (control != null) return this.sequence(control)
    if (this.unackedBytes >= MAX_INFLIGHT) return undefined
    const interactiveBusy = this.interactiveBusy()
    const classes = interactiveBusy && this.unackedBytes >= MAX_BULK_INFLIGHT ? [Priority.CONTROL, Priority.INTERACTIVE] : [Priority.CONTROL, Priority.INTERACTIVE, Priority.BULK]
    for (const priority of classes) {
      const channel = this.pick(priority)
      if (channel == null) continue
      const chunk = channel.take()
      if (chunk === 'close') return this.sequence({ type: FrameType.CLOSE, channel: channel.id })
      if (chunk != null) {
        if (priority !== Priority.BULK) this.interactiveAt = performance.now()
        return this.sequenceData(channel.id, chunk)
      }
    }
    return undefined
  }

  /**
   * Round-robin within a class by channel id: the sendable channel with the next id after the
   * last one served, wrapping around. One pass, no allocation: this runs for every frame.
   */
  private pick (priority: Priority): TunnelChannel | undefined {
    const last = this.lastServed[priority] ?? 0
    let next: TunnelChannel | undefined
    let lowest: TunnelChannel | undefined
    for (const channel of this.channels.values()) {
      if (channel.priority !== priority || !channel.sendable()) continue
      if (lowest == null || channel.id < lowest.id) lowest = channel
      if (channel.id > last && (next == null || channel.id < next.id)) next = channel
    }
    const chosen = next ?? lowest
    if (chosen != null) this.lastServed[priority] = chosen.id
    return chosen
  }

  /**
   * Write frames to `stream` while it is ours; sleep when there is nothing to send. Frames
   * ready together go out in one write of up to SEND_BATCH bytes, as a list of their parts:
   * the muxer and the encrypter take lists, and TCP writes one in a single system call.
   */
  private async pump (stream: Stream): Promise<void> {
    try {
      while (this.stream === stream) {
        const write = new Uint8ArrayList()
        for (let frame = this.next(); frame != null; frame = write.byteLength < SEND_BATCH ? this.next() : undefined) {
          if (frame instanceof Uint8Array) write.append(frame)
          else write.appendAll(frame.parts)
        }
        if (write.byteLength === 0) {
          await new Promise<void>(resolve => { this.wakeup = resolve })
          continue
        }
        this.onActivity()
        if (!stream.send(write)) await stream.onDrain()
      }
    } catch (err) {
      this.log('tunnel stream to %s failed while writing - %s', this.device, (err as Error).message)
      this.detach(stream)
    }
  }

  // ---- receiving

  private async read (stream: Stream, source: AsyncIterator<Uint8Array | Uint8ArrayList>, rest: Uint8Array): Promise<void> {
    const frames = new FrameReader({ maxLength: MAX_FRAME, tooLong: (length) => new TunnelProtocolError(`frame of ${length} bytes`) })
    frames.push(rest)
    const drain = (): void => {
      for (let body = frames.next(); body != null; body = frames.next()) this.handle(decodeFrame(body))
    }
    try {
      drain()
      for (let next = await source.next(); next.done !== true; next = await source.next()) {
        this.onActivity()
        frames.push(next.value)
        drain()
      }
    } catch (err) {
      if (err instanceof TunnelProtocolError) {
        this.log.error('device %s broke the tunnel protocol - %s', this.device, err.message)
        stream.abort(err)
      } else {
        this.log('tunnel stream to %s ended - %s', this.device, (err as Error).message)
      }
    }
    this.detach(stream)
  }

  private acknowledged (upTo: number): void {
    while (this.unacked.length > 0 && (this.unacked[0] as Pending).seq <= upTo) {
      const done = this.unacked.shift() as Pending
      this.unackedBytes -= done.bytes
      if (done.control) this.unackedControl--
    }
    this.wake()
  }

  private handle (frame: Frame): void {
    if (frame.type === FrameType.ACK) {
      this.acknowledged(frame.received)
      return
    }
    if (!('seq' in frame)) throw new TunnelProtocolError(`frame type ${frame.type} inside a running tunnel`)
    if (frame.seq <= this.received) return // sent again after a switch: already have it
    if (frame.seq !== this.received + 1) throw new TunnelProtocolError(`frame ${frame.seq} after ${this.received}`)
    if (this.control.length + this.unackedControl >= MAX_CONTROL_BACKLOG) {
      throw new TunnelProtocolError(`the device neither reads nor acknowledges our answers (${MAX_CONTROL_BACKLOG} waiting) but goes on sending`)
    }
    this.received = frame.seq
    this.countForAck(frame.type === FrameType.DATA ? frame.payload.byteLength : 16)
    const channel = this.channels.get(frame.channel)
    switch (frame.type) {
      case FrameType.DATA:
        if (channel != null && channel.priority !== Priority.BULK) this.interactiveAt = performance.now()
        if (channel != null && !channel.deliver(frame.payload)) throw new TunnelProtocolError(`channel ${frame.channel} overran its window`)
        break
      case FrameType.OPEN: this.accept(frame.channel, frame.name, frame.priority); break
      case FrameType.OPEN_OK: channel?.opened(); this.opening.get(frame.channel)?.resolve(); break
      case FrameType.OPEN_FAIL: this.opening.get(frame.channel)?.reject(new ChannelError(frame.reason)); break
      case FrameType.CLOSE: channel?.remoteClosed(); break
      case FrameType.RESET: this.channels.delete(frame.channel); channel?.fail(new ChannelError(`the device reset the channel: ${frame.reason}`)); break
      case FrameType.WINDOW: channel?.credited(frame.credit); break
    }
  }

  /** Has an interactive channel moved data either way lately? Then bulk yields and acknowledgements hurry. */
  private interactiveBusy (): boolean {
    return performance.now() - this.interactiveAt < INTERACTIVE_RECENT_MS
  }

  /**
   * Acknowledge after ACK_BYTES, or a short delay after the first unacknowledged frame: short
   * while an interactive channel is busy (bulk then waits on every acknowledgement), longer
   * otherwise, so a bulk stream is not answered by a stream of tiny writes.
   */
  private countForAck (bytes: number): void {
    this.bytesSinceAck += bytes
    if (this.bytesSinceAck >= ACK_BYTES) {
      this.ackDue = true
      this.wake()
    } else if (this.ackTimer == null) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined
        if (this.bytesSinceAck === 0) return
        this.ackDue = true
        this.wake()
      }, this.interactiveBusy() ? ACK_DELAY_MS : ACK_BULK_DELAY_MS)
    }
  }

  private accept (id: number, name: string, priority: number): void {
    const mine = this.initiator ? id % 2 === 1 : id % 2 === 0
    if (mine || this.channels.has(id)) throw new TunnelProtocolError(`channel id ${id} is not the other side's to open`)
    if (priority > Priority.BULK) throw new TunnelProtocolError(`priority ${priority}`)
    let handler: (channel: Channel) => void
    try {
      if (this.channels.size >= MAX_CHANNELS) throw new ChannelError(`at most ${MAX_CHANNELS} channels per device`)
      handler = this.onOpen(name, priority as Priority)
    } catch (err) {
      this.queue({ type: FrameType.OPEN_FAIL, channel: id, reason: (err as Error).message })
      return
    }
    const channel = new TunnelChannel({ id, name, priority: priority as Priority, device: this.device, host: this })
    this.channels.set(id, channel)
    channel.opened()
    this.queue({ type: FrameType.OPEN_OK, channel: id })
    handler(channel)
  }
}
