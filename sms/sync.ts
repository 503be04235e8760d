import type { Logger } from '@libp2p/interface'
import { Priority, type Channel, type ChannelService, type Tunnels } from '../link/index.ts'
import { CATCH_UP_PAGE, SYNC_CHANNEL } from './constants.ts'
import { SyncProtocolError } from './errors.ts'
import { readJsonFrames, writeJsonFrames } from './json-frames.ts'
import { fromWire, wire } from './sync-wire.ts'
import type { LogEntry, SmsStore, VersionVector } from './store.ts'

/** A subscriber this far behind is dropped; it reconnects and catches up from the log. */
const MAX_FEED_BACKLOG = 20_000
/** Retry a broken subscription after this long; a peer that sent garbage waits longer. */
const RESUBSCRIBE_MS = 2_000
const MISBEHAVED_MS = 30_000
/**
 * Subscriptions catch up one at a time: a device far behind (just paired, or back after long)
 * takes the log from one member, then asks the next only for what that one did not have. A
 * member that does not say it is done (an older version, a stalled link) holds the next one
 * back at most this long.
 */
export const CATCH_UP_TURN_MAX_MS = 30_000
/** Hello version 2: the publisher says when the catch-up is done (`{ t: 'caught-up' }`). */
const HELLO_VERSION = 2
const CAUGHT_UP = 'caught-up'
const isCaughtUp = (frame: unknown): boolean => (frame as { t?: unknown } | null)?.t === CAUGHT_UP

export interface SmsSyncInit {
  store: SmsStore
  tunnels: Tunnels
  isMember(device: string): boolean
  /** Origins taken beside members (SmsServiceInit.ofAccount): devices removed, or listed but not met. */
  ofAccount?(device: string): boolean
  log: Logger
}

/**
 * Entries of other devices are passed on live after this long: a subscriber linked to their
 * origin has them by then (and skips the copy without checking its signature again).
 */
const RELAY_DELAY_MS = 250

/** One subscriber's feed: the catch-up first, then every new entry, in order per origin. */
class Feed {
  private readonly channel: Channel
  private readonly device: string
  private readonly self: string
  private closed = false
  private backlog: LogEntry[] = []
  private live = false
  private pumping = false
  /**
   * Per origin, the sequence up to which the subscriber holds every entry: its hello's vector,
   * then advanced by what this feed sent. An entry at or below it is not sent again (the entries
   * a device just caught up on come back as relays from it otherwise: the whole log, twice).
   */
  private readonly holds = new Map<string, number>()

  constructor (channel: Channel, self: string) {
    this.channel = channel
    this.device = channel.device
    this.self = self
  }

  close (): void {
    this.closed = true
  }

  async catchUp (store: SmsStore, theirs: VersionVector, sayDone: boolean): Promise<void> {
    for (const [origin, seq] of Object.entries(theirs)) this.holds.set(origin, seq)
    for (const [origin] of Object.entries(store.versionVector())) {
      if (origin === this.device) continue
      let after = this.holds.get(origin) ?? 0
      while (true) {
        const page = store.entriesAfter(origin, after, CATCH_UP_PAGE)
        if (page.length === 0) break
        await this.send(page)
        after = page[page.length - 1]?.seq ?? after
      }
    }
    if (sayDone) await writeJsonFrames(this.channel, [{ t: CAUGHT_UP }])
    this.live = true
    void this.pump()
  }

  /** Write entries the subscriber does not hold yet, and count them as held. */
  private async send (entries: LogEntry[]): Promise<void> {
    const fresh = entries.filter(e => e.seq > (this.holds.get(e.origin) ?? 0))
    if (fresh.length === 0) return
    await writeJsonFrames(this.channel, wire(fresh, this.device))
    // in order per origin: the held prefix grows while there is no gap (a gap's entries come later, live)
    for (const e of fresh) if (e.seq === (this.holds.get(e.origin) ?? 0) + 1) this.holds.set(e.origin, e.seq)
  }

  push (entries: LogEntry[]): void {
    const own = entries.filter(e => e.origin === this.self)
    const relayed = entries.filter(e => e.origin !== this.self && e.origin !== this.device)
    this.enqueue(own)
    if (relayed.length > 0) setTimeout(() => { this.enqueue(relayed) }, RELAY_DELAY_MS).unref()
  }

  private enqueue (entries: LogEntry[]): void {
    if (this.closed || entries.length === 0) return
    this.backlog.push(...entries)
    if (this.backlog.length > MAX_FEED_BACKLOG) {
      this.channel.reset('the device fell too far behind; it will catch up from the log')
      this.backlog = []
      return
    }
    if (this.live) void this.pump()
  }

  private async pump (): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.backlog.length > 0) {
        await this.send(this.backlog.splice(0, CATCH_UP_PAGE))
      }
    } catch {
      // the channel failed: the subscriber resubscribes and catches up
    } finally {
      this.pumping = false
    }
  }
}

/**
 * Replication of the message log between the account's devices (anti-entropy). Each device
 * subscribes to every member it has a link to: it sends its version vector, the member sends
 * every entry it has beyond it and then each new entry as it is stored. Entries carry their
 * origin's signature, so a device can pass on what it heard from others: a device that was
 * offline catches up from whichever member it meets first.
 */
export class SmsSync {
  private readonly init: SmsSyncInit
  private readonly feeds = new Set<Feed>()
  private readonly subscriptions = new Map<string, Channel | 'opening'>()
  private readonly pausedUntil = new Map<string, number>()
  /** Settles when every subscription that asked before is caught up (or gave up its turn). */
  private turns: Promise<void> = Promise.resolve()
  private stopped = false

  constructor (init: SmsSyncInit) {
    this.init = init
    this.onActive = this.onActive.bind(this)
    this.onEntries = this.onEntries.bind(this)
  }

  /** The `sms-sync` channel: the message log is every member's (what each may see is decided per event). */
  readonly channel: ChannelService = { name: SYNC_CHANNEL, everyMember: true, serve: (channel) => { void this.serve(channel) } }

  /** Follow every member the tunnel reaches now or later (`members`: the account's devices now). */
  start (members: string[]): void {
    this.init.tunnels.addEventListener('tunnel:up', this.onActive)
    this.init.store.on('entries', this.onEntries)
    for (const device of members) if (this.init.tunnels.reachable(device)) this.subscribe(device)
  }

  stop (): void {
    this.stopped = true
    this.init.tunnels.removeEventListener('tunnel:up', this.onActive)
    this.init.store.off('entries', this.onEntries)
    for (const sub of this.subscriptions.values()) if (sub !== 'opening') sub.reset('shutting down')
  }

  private onActive (evt: CustomEvent<{ device: string }>): void {
    this.subscribe(evt.detail.device)
  }

  private onEntries (entries: LogEntry[]): void {
    for (const feed of this.feeds) feed.push(entries)
  }

  /** Follow a member's log (once per device at a time). */
  subscribe (device: string): void {
    if (this.stopped || this.subscriptions.has(device) || !this.init.isMember(device)) return
    if ((this.pausedUntil.get(device) ?? 0) > Date.now()) return
    this.subscriptions.set(device, 'opening')
    void this.follow(device)
  }

  private async follow (device: string): Promise<void> {
    const { store, log } = this.init
    let channel: Channel | undefined
    let retryMs = RESUBSCRIBE_MS
    const done = Promise.withResolvers<void>()
    const before = this.turns
    this.turns = before.then(async () => { await done.promise })
    try {
      channel = await this.init.tunnels.open(device, SYNC_CHANNEL, Priority.INTERACTIVE)
      this.subscriptions.set(device, channel)
      await waitAtMost(before, CATCH_UP_TURN_MAX_MS)
      setTimeout(done.resolve, CATCH_UP_TURN_MAX_MS).unref()
      // the version vector as it is after the catch-ups before this one
      await writeJsonFrames(channel, [{ t: 'hello', v: HELLO_VERSION, vv: store.versionVector() }])
      for await (const batch of readJsonFrames(channel)) {
        if (batch.some(isCaughtUp)) done.resolve()
        // only the account's devices write the log; anything else is not stored
        await store.ingest(batch.flatMap(f => isCaughtUp(f) ? [] : fromWire(f) ?? []), origin => this.known(origin))
      }
    } catch (err) {
      if (err instanceof SyncProtocolError) {
        log.error('device %s sent a bad sync frame, dropping it for %d s - %s', device, MISBEHAVED_MS / 1000, err.message)
        channel?.reset(err.message)
        this.pausedUntil.set(device, Date.now() + MISBEHAVED_MS)
        retryMs = MISBEHAVED_MS
      } else {
        log('sync from %s ended - %s', device, (err as Error).message)
      }
    } finally {
      done.resolve()
      this.subscriptions.delete(device)
    }
    if (this.stopped) return
    setTimeout(() => { if (this.init.tunnels.reachable(device)) this.subscribe(device) }, retryMs + 10).unref()
  }

  private known (origin: string): boolean {
    return origin === this.init.store.self || this.init.isMember(origin) || this.init.ofAccount?.(origin) === true
  }

  /** A member follows this device's log. */
  private async serve (channel: Channel): Promise<void> {
    const feed = new Feed(channel, this.init.store.self)
    try {
      const frames = readJsonFrames(channel)
      const first = await frames.next()
      const hello = first.done === true ? undefined : first.value[0] as { t?: unknown, vv?: unknown } | undefined
      if (hello?.t !== 'hello' || hello.vv == null || typeof hello.vv !== 'object' || Array.isArray(hello.vv)) throw new SyncProtocolError('expected hello')
      const vv: VersionVector = {}
      for (const [origin, seq] of Object.entries(hello.vv)) if (Number.isSafeInteger(seq)) vv[origin] = seq as number
      this.feeds.add(feed)
      await feed.catchUp(this.init.store, vv, typeof (hello as { v?: unknown }).v === 'number' && (hello as { v: number }).v >= HELLO_VERSION)
      // the subscriber sends nothing more; reading notices when it goes away
      for await (const batch of frames) if (batch.length > 0) throw new SyncProtocolError('unexpected frame after hello')
    } catch (err) {
      this.init.log('feed to %s ended - %s', channel.device, (err as Error).message)
      if (err instanceof SyncProtocolError) channel.reset(err.message)
    } finally {
      feed.close()
      this.feeds.delete(feed)
    }
  }
}

async function waitAtMost (promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([promise, new Promise<void>(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}
