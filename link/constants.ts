/** Link layer: protocol ids, frame types and limits. All documented in docs/PROTOCOL.md. */

/** The user tunnel: one stream per device pair, every channel multiplexed on it. */
export const TUNNEL_PROTOCOL = '/companion/tunnel/1.0.0'
/** Keepalive probes on every link (connection). */
export const PROBE_PROTOCOL = '/companion/probe/1.0.0'

/**
 * Probing while the tunnel carries data (and for a new link's first seconds): a ping every
 * 200 ms; a link with no answer for 600 ms (three pings) is dead, within the 1 s failover
 * target with room for the move. Traffic keeps the radio awake anyway, so these cost little.
 */
export const PROBE_INTERVAL_MS = 200
export const LINK_DEAD_MS = 600
/** A link is probed fast for its first seconds, so it is ranked before it is needed. */
export const PROBE_YOUNG_MS = 3_000
/** The tunnel counts as busy this long after it last moved data. */
export const LINK_BUSY_MS = 3_000
/**
 * Idle, the active link is pinged every 3.5 s and dead after 5 s unanswered: a dead idle link
 * is left within 8.5 s (< 10 s), at 1/17 of the busy rate; standby links, which matter only
 * once the active one dies, every 10 s (every 1 s while busy, so one is ready to take over).
 * At 20 s, a wired link that came back after a cut did not take over again from Wi-Fi within
 * 20 s (tunnel.spec); idle, 2.5 s for the active link cost 0.53 % of a core per daemon.
 */
export const PROBE_IDLE = { intervalMs: 3_500, deadMs: 5_000 }
export const PROBE_STANDBY_IDLE = { intervalMs: 10_000, deadMs: 25_000 }
export const PROBE_STANDBY_BUSY = { intervalMs: 1_000, deadMs: 3_000 }

/** Per-channel flow-control window: what a sender may have unread at the receiver. */
export const CHANNEL_WINDOW = 1024 * 1024
/** Unacknowledged bytes of the whole tunnel, past which no data frame is sent. */
export const MAX_INFLIGHT = 2 * 1024 * 1024
/**
 * While an interactive channel is busy (sent or received data within INTERACTIVE_RECENT_MS),
 * bulk data stops at this many unacknowledged bytes, so it never queues far ahead of it.
 */
export const MAX_BULK_INFLIGHT = 16 * 1024
export const INTERACTIVE_RECENT_MS = 500
/** Largest payload of one DATA frame; small enough that an interactive frame never waits long. */
export const MAX_DATA_PAYLOAD = 16 * 1024
/** Largest frame on the wire (a DATA frame plus its header, or an OPEN with a long name). */
export const MAX_FRAME = MAX_DATA_PAYLOAD + 64
/**
 * The receiver acknowledges after this many bytes (half the unacknowledged window), with the
 * channel credit it returns (every half channel window; usually first), or this long after the
 * first unacknowledged frame: ACK_DELAY_MS while an interactive channel is busy,
 * ACK_BULK_DELAY_MS otherwise.
 */
export const ACK_BYTES = 1024 * 1024
export const ACK_DELAY_MS = 2
export const ACK_BULK_DELAY_MS = 10
/** Without any link for this long, channels fail. */
export const TUNNEL_GRACE_MS = 30_000
/** An open that is not answered in this long fails. */
export const OPEN_TIMEOUT_MS = 10_000
export const MAX_CHANNEL_NAME_BYTES = 128
/**
 * Channels per device pair, both sides' together. With CHANNEL_WINDOW each, what a member can
 * make this device buffer for it is bounded: 128 MiB per member, however it behaves.
 */
export const MAX_CHANNELS = 128
/**
 * Control frames (answers to the other side's opens, credits, resets) queued or sent but not
 * yet acknowledged. A device that goes on sending while it neither reads nor acknowledges our
 * answers would grow them without bound: past this many, its stream is cut.
 */
export const MAX_CONTROL_BACKLOG = 1024

export const FrameType = {
  DATA: 1,
  OPEN: 2,
  OPEN_OK: 3,
  OPEN_FAIL: 4,
  CLOSE: 5,
  RESET: 6,
  WINDOW: 7,
  ACK: 8,
  RESUME: 9,
  RESUME_OK: 10
} as const
export type FrameType = typeof FrameType[keyof typeof FrameType]

/** Scheduling classes: control frames first, then interactive channels, then bulk. */
export const Priority = {
  CONTROL: 0,
  INTERACTIVE: 1,
  BULK: 2
} as const
export type Priority = typeof Priority[keyof typeof Priority]
