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
}

export interface Reassembled {
  from: string
  text: string
  timestamp: number
  /** Some parts never came: `text` is what did, in order. */
  incomplete: boolean
  missing: number[]
}

interface Pending {
  from: string
  total: number
  parts: Map<number, IncomingPart>
  timer: ReturnType<typeof setTimeout>
}

/**
 * Puts concatenated SMS back together: parts in any order, duplicates ignored, and a message
 * whose parts stop coming is delivered anyway after the timeout, marked incomplete.
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>()
  private readonly deliver: (message: Reassembled) => void
  private readonly timeoutMs: number

  constructor (deliver: (message: Reassembled) => void, timeoutMs = REASSEMBLY_TIMEOUT_MS) {
    this.deliver = deliver
    this.timeoutMs = timeoutMs
  }

  add (part: IncomingPart): void {
    const c = part.concat
    if (c == null || c.total <= 1) {
      this.deliver({ from: part.from, text: part.text, timestamp: part.timestamp, incomplete: false, missing: [] })
      return
    }
    if (c.seq < 1 || c.seq > c.total) return
    const key = `${part.from}/${c.ref}/${c.total}`
    let entry = this.pending.get(key)
    if (entry == null) {
      if (this.pending.size >= MAX_PENDING_MESSAGES) this.flush(this.pending.keys().next().value as string)
      entry = { from: part.from, total: c.total, parts: new Map(), timer: setTimeout(() => { this.flush(key) }, this.timeoutMs) }
      entry.timer.unref?.()
      this.pending.set(key, entry)
    }
    if (!entry.parts.has(c.seq)) entry.parts.set(c.seq, part)
    if (entry.parts.size === entry.total) this.flush(key)
  }

  /** Deliver whatever arrived of every pending message (at shutdown). */
  flushAll (): void {
    for (const key of [...this.pending.keys()]) this.flush(key)
  }

  private flush (key: string): void {
    const entry = this.pending.get(key)
    if (entry == null) return
    this.pending.delete(key)
    clearTimeout(entry.timer)
    const seqs = Array.from({ length: entry.total }, (_, i) => i + 1)
    const present = seqs.filter(s => entry.parts.has(s))
    const missing = seqs.filter(s => !entry.parts.has(s))
    this.deliver({
      from: entry.from,
      text: present.map(s => entry.parts.get(s)?.text ?? '').join(''),
      timestamp: Math.min(...present.map(s => entry.parts.get(s)?.timestamp ?? Infinity)),
      incomplete: missing.length > 0,
      missing
    })
  }
}
