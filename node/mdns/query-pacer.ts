/**
 * When to send the periodic mDNS query. Every answer is multicast, so one device's query
 * refreshes every device on the link: a device that hears a query for our service before its
 * own is due counts it as its own and waits a whole interval again (RFC 6762 §7.3, duplicate
 * question suppression). Twenty devices started together queried together every minute, and
 * each heard the twenty rounds of answers that followed (the 20-device benchmark's idle CPU
 * went up sevenfold in the minute those fell in); now one query goes out per interval on the
 * LAN. Each interval is stretched by up to a fifth at random, so devices that started together
 * drift apart instead of asking in the same millisecond. A query counts once it was heard on
 * every address family we ask on: an IPv4-only query (a stranger's, or an older device's) brings
 * no IPv6 answers, and a cable with no router has only IPv6 link-local addresses.
 */
export const QUERY_JITTER = 0.2

export type Family = 4 | 6

export interface QueryPacerInit {
  intervalMs: number
  /** Send our query on every family. */
  send: () => void
  /** The families we ask on now. */
  families: () => Family[]
  random?: () => number
}

export class QueryPacer {
  private readonly intervalMs: number
  private readonly send: () => void
  private readonly families: () => Family[]
  private readonly random: () => number
  private timer?: ReturnType<typeof setTimeout>
  private readonly heardSince = new Set<Family>()
  /** How long the pacer waits now before its next query. */
  waitMs = 0

  constructor (init: QueryPacerInit) {
    this.intervalMs = init.intervalMs
    this.send = init.send
    this.families = init.families
    this.random = init.random ?? Math.random
  }

  start (): void {
    this.schedule()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** We sent a query on every family (on an event: a network change, a device gone). */
  sentOne (): void {
    if (this.timer != null) this.schedule()
  }

  /** A query for our service was heard on `family` (another device's, or our own looped back). */
  heard (family: Family): void {
    if (this.timer == null) return
    this.heardSince.add(family)
    if (this.families().every(f => this.heardSince.has(f))) this.schedule()
  }

  private schedule (): void {
    clearTimeout(this.timer)
    this.heardSince.clear()
    this.waitMs = this.intervalMs * (1 + QUERY_JITTER * this.random())
    this.timer = setTimeout(() => {
      this.send()
      this.schedule()
    }, this.waitMs)
    this.timer.unref()
  }
}
