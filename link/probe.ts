import type { Connection, Logger, Stream } from '@libp2p/interface'
import { FrameReader } from '../framing/frames.ts'
import { LINK_DEAD_MS, PROBE_INTERVAL_MS } from './constants.ts'

/**
 * Keepalive probes on one link: `/companion/probe/1.0.0` streams carry 12-byte frames,
 * `u8 kind (1 ping, 2 pong) | u8 0 | u16 0 | u64 sender time (ms)`. Each side opens its own
 * stream, pings every 200 ms and answers the other's pings. A link whose pings go unanswered
 * for 600 ms is dead: the connection is aborted at once, not left to TCP's timeouts.
 */
export const PROBE_FRAME = 12
/** A prober that reads none of our answers for this long is not probing: its stream is reset. */
const PROBE_DRAIN_TIMEOUT_MS = 10_000

export interface ProbeObserver {
  rtt(ms: number): void
  lost(): void
  /** Silence: the stream could not be opened in time, or pings went unanswered too long. */
  dead(): void
  /** The other side ended or refused our probe stream: it is there, but not probing with us (yet). */
  refused(): void
}

/** A stream open that failed by our own timeout is silence; any other failure is an answer. */
function silent (err: unknown): boolean {
  const name = (err as Error | undefined)?.name
  return name === 'AbortError' || name === 'TimeoutError'
}

function frame (kind: 1 | 2, time: bigint): Uint8Array {
  const out = new Uint8Array(PROBE_FRAME)
  const view = new DataView(out.buffer)
  view.setUint8(0, kind)
  view.setBigUint64(4, time)
  return out
}

/** The probe frames arriving on a stream, as (kind, time). */
async function * probeFrames (stream: Stream): AsyncGenerator<{ kind: number, time: bigint }> {
  const frames = new FrameReader({ size: PROBE_FRAME })
  for await (const chunk of stream) {
    frames.push(chunk)
    for (let f = frames.next(); f != null; f = frames.next()) {
      const view = new DataView(f.buffer, f.byteOffset, PROBE_FRAME)
      yield { kind: view.getUint8(0), time: view.getBigUint64(4) }
    }
  }
}

/**
 * Answer the other side's pings on a stream it opened. A side that does not read our pongs
 * stops our reading of its pings (we wait for the stream to drain), so it cannot make us
 * buffer answers without bound: its pings back up in its own send window instead.
 */
export async function answerProbes (stream: Stream): Promise<void> {
  try {
    for await (const { kind, time } of probeFrames(stream)) {
      if (kind !== 1) throw new Error('not a ping')
      if (!stream.send(frame(2, time))) await stream.onDrain({ signal: AbortSignal.timeout(PROBE_DRAIN_TIMEOUT_MS) })
    }
  } catch {
    stream.abort(new Error('bad probe'))
  }
}

/** How often to ping a link now, and how long a ping may go unanswered before the link is dead. */
export interface ProbePace {
  intervalMs: number
  deadMs: number
}

/** A running prober: `kick()` pings at once (traffic starts on a link not confirmed lately). */
export interface Prober {
  kick(): void
}

/**
 * Ping over `connection` until it closes; report round trips, losses and death. The pace is
 * asked before every ping, so a link can be probed fast while it carries traffic and rarely
 * while idle. A link is dead when its oldest unanswered ping is older than the pace's `deadMs`.
 */
export function runProbes (connection: Connection, protocol: string, observer: ProbeObserver, log: Logger, pace: () => ProbePace = () => ({ intervalMs: PROBE_INTERVAL_MS, deadMs: LINK_DEAD_MS })): Prober {
  let stream: Stream | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  /** When the oldest unanswered ping went out. */
  let unansweredSince: number | undefined
  let outstanding = 0
  let done = false
  const finish = (): void => {
    done = true
    clearTimeout(timer)
  }
  const tick = (): void => {
    timer = undefined
    if (done || stream == null) return
    if (connection.status !== 'open') { finish(); return }
    const { intervalMs, deadMs } = pace()
    if (unansweredSince != null && Date.now() - unansweredSince > deadMs) {
      finish()
      stream.abort(new Error('probes unanswered'))
      observer.dead()
      return
    }
    if (outstanding > 0) observer.lost()
    outstanding++
    unansweredSince ??= Date.now()
    try {
      stream.send(frame(1, BigInt(Date.now())))
    } catch {
      // the other side closed the stream under us: nothing more to ping on
      finish()
      if (connection.status === 'open') observer.refused()
      return
    }
    // wake again at the next ping, or when the oldest one times out, whichever is first
    const dueIn = unansweredSince + deadMs + 1 - Date.now()
    timer = setTimeout(tick, Math.max(1, Math.min(intervalMs, dueIn)))
  }
  void (async () => {
    try {
      stream = await connection.newStream(protocol, { signal: AbortSignal.timeout(LINK_DEAD_MS * 2) })
    } catch (err) {
      log('could not open probes on %s - %s', connection.id, (err as Error).message)
      done = true
      if (connection.status !== 'open') return
      if (silent(err)) observer.dead()
      else observer.refused()
      return
    }
    tick()
    try {
      for await (const { kind, time } of probeFrames(stream)) {
        if (kind !== 2) continue
        outstanding = 0
        unansweredSince = undefined
        observer.rtt(Date.now() - Number(time))
      }
    } catch {}
    if (done) return
    finish()
    // not our abort (that sets done first): the other side ended the stream on a live connection
    if (connection.status === 'open') observer.refused()
  })()
  return {
    kick: () => {
      if (done || stream == null) return
      clearTimeout(timer)
      tick()
    }
  }
}
