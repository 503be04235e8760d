import type { Concat } from './pdu.ts'

/** How long the parts of one message may take to all arrive. */
export const REASSEMBLY_TIMEOUT_MS = 5 * 60_000
/** Messages being put together at once (a flood of first parts must not grow without bound). */
export const MAX_PENDING_MESSAGES = 256

export interface IncomingPart {
  from: string
  text: string
  /** Service centre time stamp of this part (ms). */
  timestamp: number
  concat?: Concat
  /** The caller's handle of this part (e.g. the modem's storage index), given back with the message. */
  tag?: unknown
}

export interface Reassembled {
  from: string
  text: string
  timestamp: number
  /** Some parts never came: `text` is what did, in order. */
  incomplete: boolean
  missing: number[]
  /** The tags of the parts it was made of. */
  tags: unknown[]
  /** Which message of the sender's it was (for `forget`); absent for a text of one part. */
  key?: string
}

interface Pending {
  from: string
  total: number
  parts: Map<number, IncomingPart>
  /** Tags of copies of parts already held (deleted along with the message). */
  duplicates: unknown[]
  timer: ReturnType<typeof setTimeout>
}

/**
 * Puts concatenated SMS back together: parts in any order, duplicates ignored, and a message
 * whose parts stop coming is delivered anyway after the timeout, marked incomplete.
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>()
  /** Messages delivered lately, so a part sent again does not start a new one. */
  private readonly done = new Map<string, number>()
  private readonly deliver: (message: Reassembled) => void
  private readonly duplicate: (tag: unknown) => void
  private readonly timeoutMs: number

  /** `duplicate` gets the tag of a part that came again after its message was delivered. */
  constructor (deliver: (message: Reassembled) => void, options: { timeoutMs?: number, duplicate?: (tag: unknown) => void } = {}) {
    this.deliver = deliver
    this.duplicate = options.duplicate ?? (() => {})
    this.timeoutMs = options.timeoutMs ?? REASSEMBLY_TIMEOUT_MS
  }

  add (part: IncomingPart): void {
    const c = part.concat
    if (c == null || c.total <= 1) {
      this.deliver({ from: part.from, text: part.text, timestamp: part.timestamp, incomplete: false, missing: [], tags: [part.tag] })
      return
    }
    if (c.seq < 1 || c.seq > c.total) return
    const key = `${part.from}/${c.ref}/${c.total}`
    const now = Date.now()
    for (const [k, at] of this.done) if (at < now - this.timeoutMs) this.done.delete(k)
    if (this.done.has(key)) {
      this.duplicate(part.tag)
      return
    }
    let entry = this.pending.get(key)
    if (entry == null) {
      if (this.pending.size >= MAX_PENDING_MESSAGES) this.flush(this.pending.keys().next().value as string)
      entry = { from: part.from, total: c.total, parts: new Map(), duplicates: [], timer: setTimeout(() => { this.flush(key) }, this.timeoutMs) }
      entry.timer.unref?.()
      this.pending.set(key, entry)
    }
    if (!entry.parts.has(c.seq)) entry.parts.set(c.seq, part)
    else entry.duplicates.push(part.tag)
    if (entry.parts.size === entry.total) this.flush(key)
  }

  /** A message that could not be stored: its parts, read again, make it anew (not duplicates to delete). */
  forget (message: Reassembled): void {
    if (message.key != null) this.done.delete(message.key)
  }

  private flush (key: string): void {
    const entry = this.pending.get(key)
    if (entry == null) return
    this.pending.delete(key)
    this.done.set(key, Date.now())
    clearTimeout(entry.timer)
    const seqs = Array.from({ length: entry.total }, (_, i) => i + 1)
    const present = seqs.filter(s => entry.parts.has(s))
    const missing = seqs.filter(s => !entry.parts.has(s))
    this.deliver({
      from: entry.from,
      text: present.map(s => entry.parts.get(s)?.text ?? '').join(''),
      timestamp: Math.min(...present.map(s => entry.parts.get(s)?.timestamp ?? Infinity)),
      incomplete: missing.length > 0,
      missing,
      tags: [...present.map(s => entry.parts.get(s)?.tag), ...entry.duplicates],
      key
    })
  }
}
