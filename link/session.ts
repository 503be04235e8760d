import type { Logger, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { ACK_BYTES, ACK_DELAY_MS, INTERACTIVE_RECENT_MS, MAX_BULK_INFLIGHT, MAX_CHANNELS, MAX_FRAME, MAX_DATA_PAYLOAD, MAX_INFLIGHT, MAX_WRITE, OPEN_TIMEOUT_MS, Priority, FrameType, TUNNEL_GRACE_MS } from './constants.ts'
import { Channel, type ChannelHost } from './channel.ts'
import { ChannelError, TunnelProtocolError } from './errors.ts'
import { DATA_HEADER_BYTES, decodeFrame, encodeFrameInto, type Frame, type Unsequenced } from './frames.ts'

/** Decides on a channel the other side opens: return the handler, or throw to refuse. */
export type OpenHandler = (name: string, priority: Priority) => (channel: Channel) => void

export interface SessionInit {
  /** The other device. */
  peer: string
  /** The lower device id opens tunnel streams and odd channel ids. */
  initiator: boolean
  id: Uint8Array
  onOpen: OpenHandler
  log: Logger
  /** @default TUNNEL_GRACE_MS */
  graceMs?: number
}

interface Pending { seq: number, bytes: Uint8Array }

/** A write is topped up with more frames while this much room is left (the largest control frame fits). */
const MIN_ROOM = 1024
/** Writes up to this size get a buffer of their own size (see shrink). */
const SMALL_WRITE = 4096
/** An ACK on the wire: length, type, u64. */
const ACK_FRAME_BYTES = 4 + 1 + 8

/**
 * The tunnel session with one device: it outlives the streams (links) it rides on. Every frame
 * but ACK carries a sequence number and stays buffered until acknowledged; on a new stream both
 * sides say what they received and the rest is sent again, so nothing is lost, duplicated or
 * reordered. Frames go out control first, then interactive channels, then bulk, with at most
 * MAX_INFLIGHT unacknowledged bytes so bulk never queues far ahead of interactive frames.
 */
export class TunnelSession implements ChannelHost {
  readonly peer: string
  private sessionId: Uint8Array
  private readonly initiator: boolean
  private readonly onOpen: OpenHandler
  private readonly log: Logger
  private readonly graceMs: number
  private readonly channels = new Map<number, Channel>()
  private nextChannel: number
  private nextSeq = 1
  /** Highest sequence number received (and processed) from the other side. */
  received = 0
  private unacked: Pending[] = []
  private unackedBytes = 0
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
    this.peer = init.peer
    this.sessionId = init.id
    this.initiator = init.initiator
    this.onOpen = init.onOpen
    this.log = init.log
    this.graceMs = init.graceMs ?? TUNNEL_GRACE_MS
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
    const channel = new Channel({ id, name, priority, peer: this.peer, host: this })
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

  /** Number `frame`, write it into `out` at `at`, and keep it (a view of `out`) until acknowledged. */
  private sequence (frame: Unsequenced, out: Uint8Array, at: number): number {
    const seq = this.nextSeq++
    const size = encodeFrameInto({ ...frame, seq } as Frame, out, at)
    this.unacked.push({ seq, bytes: out.subarray(at, at + size) })
    this.unackedBytes += size
    return size
  }

  /**
   * Write the next frame, by priority, into `out` at `at` if it fits in the `room` left;
   * returns its size, 0 when there is nothing to send (or no room, or no credit).
   */
  private next (out: Uint8Array, at: number, room: number): number {
    const again = this.resend[0]
    if (again != null) {
      if (again.bytes.byteLength > room) return 0
      this.resend.shift()
      out.set(again.bytes, at)
      return again.bytes.byteLength
    }
    if (this.ackDue) return this.ack(out, at)
    const control = this.control.shift()
    if (control != null) return this.sequence(control, out, at)
    if (this.unackedBytes >= MAX_INFLIGHT) return 0
    const interactiveBusy = performance.now() - this.interactiveAt < INTERACTIVE_RECENT_MS
    const classes = interactiveBusy && this.unackedBytes >= MAX_BULK_INFLIGHT ? [Priority.CONTROL, Priority.INTERACTIVE] : [Priority.CONTROL, Priority.INTERACTIVE, Priority.BULK]
    for (const priority of classes) {
      const channel = this.pick(priority)
      if (channel == null) continue
      const chunk = channel.take(Math.min(MAX_DATA_PAYLOAD, room - DATA_HEADER_BYTES))
      if (chunk === 'close') return this.sequence({ type: FrameType.CLOSE, channel: channel.id }, out, at)
      if (chunk != null) {
        if (priority !== Priority.BULK) this.interactiveAt = performance.now()
        return this.sequence({ type: FrameType.DATA, channel: channel.id, payload: chunk }, out, at)
      }
    }
    return 0
  }

  /** Acknowledge everything received so far (written into `out` at `at`). */
  private ack (out: Uint8Array, at: number): number {
    this.ackDue = false
    this.bytesSinceAck = 0
    if (this.ackTimer != null) clearTimeout(this.ackTimer)
    this.ackTimer = undefined
    return encodeFrameInto({ type: FrameType.ACK, received: this.received }, out, at)
  }

  /**
   * A small write (an ACK, a few interactive bytes) in a buffer of its own size, so that the
   * 64 KiB one is not held while its frames wait for their acknowledgement.
   */
  private shrink (out: Uint8Array, size: number, kept: number): Uint8Array {
    const exact = out.slice(0, size)
    for (const pending of this.unacked.slice(kept)) pending.bytes = exact.subarray(pending.bytes.byteOffset - out.byteOffset, pending.bytes.byteOffset - out.byteOffset + pending.bytes.byteLength)
    return exact
  }

  /**
   * Round-robin within a class by channel id: the sendable channel with the next id after the
   * last one served, wrapping around. One pass, no allocation: this runs for every frame.
   */
  private pick (priority: Priority): Channel | undefined {
    const last = this.lastServed[priority] ?? 0
    let next: Channel | undefined
    let lowest: Channel | undefined
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
   * ready together go out in one write filled up to MAX_WRITE (the last DATA frame cut to
   * fit): each write costs a muxer frame, an encryption and system calls, so 16 KiB frames
   * one by one would cost four times as many, and a write just past MAX_WRITE two.
   */
  private async pump (stream: Stream): Promise<void> {
    try {
      while (this.stream === stream) {
        // a fresh buffer each time: frames not yet acknowledged are kept as views of it
        const out = Buffer.allocUnsafe(MAX_WRITE)
        const kept = this.unacked.length
        let size = 0
        for (let n = this.next(out, 0, MAX_WRITE); n > 0; n = MAX_WRITE - size >= MIN_ROOM ? this.next(out, size, MAX_WRITE - size) : 0) size += n
        if (size === 0) {
          await new Promise<void>(resolve => { this.wakeup = resolve })
          continue
        }
        // a write goes out anyway: it carries the acknowledgement too, instead of one of its own later
        if (this.bytesSinceAck > 0 && MAX_WRITE - size >= ACK_FRAME_BYTES) size += this.ack(out, size)
        if (!stream.send(size > SMALL_WRITE ? out.subarray(0, size) : this.shrink(out, size, kept))) await stream.onDrain()
      }
    } catch (err) {
      this.log('tunnel stream to %s failed while writing - %s', this.peer, (err as Error).message)
      this.detach(stream)
    }
  }

  // ---- receiving

  private async read (stream: Stream, source: AsyncIterator<Uint8Array | Uint8ArrayList>, rest: Uint8Array): Promise<void> {
    const buffer = new Uint8ArrayList(rest)
    const drain = (): void => {
      while (buffer.byteLength >= 4) {
        const length = buffer.getUint32(0)
        if (length > MAX_FRAME) throw new TunnelProtocolError(`frame of ${length} bytes`)
        if (buffer.byteLength < 4 + length) return
        const body = buffer.subarray(4, 4 + length)
        buffer.consume(4 + length)
        this.handle(decodeFrame(body))
      }
    }
    try {
      drain()
      for (let next = await source.next(); next.done !== true; next = await source.next()) {
        buffer.append(next.value.subarray())
        drain()
      }
    } catch (err) {
      if (err instanceof TunnelProtocolError) {
        this.log.error('device %s broke the tunnel protocol - %s', this.peer, err.message)
        stream.abort(err)
      } else {
        this.log('tunnel stream to %s ended - %s', this.peer, (err as Error).message)
      }
    }
    this.detach(stream)
  }

  private acknowledged (upTo: number): void {
    while (this.unacked.length > 0 && (this.unacked[0] as Pending).seq <= upTo) {
      this.unackedBytes -= (this.unacked.shift() as Pending).bytes.byteLength
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
      }, ACK_DELAY_MS)
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
    const channel = new Channel({ id, name, priority: priority as Priority, peer: this.peer, host: this })
    this.channels.set(id, channel)
    channel.opened()
    this.queue({ type: FrameType.OPEN_OK, channel: id })
    handler(channel)
  }
}
