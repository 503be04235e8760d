import { TypedEventEmitter } from 'main-event'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import { serviceCapabilities } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { LINK_BUSY_MS, LINK_DEAD_MS, PROBE_IDLE, PROBE_INTERVAL_MS, PROBE_PROTOCOL, PROBE_STANDBY_BUSY, PROBE_STANDBY_IDLE, PROBE_YOUNG_MS } from './constants.ts'
import { linkKindOf, interfaceOf, interfaceOfNewConnection } from './link-kind.ts'
import { answerProbes, runProbes, type ProbePace, type Prober } from './probe.ts'
import type { LinkInfo, LinkKind } from './link-types.ts'
import { chooseActive, linkScore, type LinkFacts } from './rank.ts'

/** How often standby links are checked for and dialled. */
const MAINTAIN_MS = 1_000
/** Once nothing changed for a while (no link opened or closed), links are maintained less often. */
const MAINTAIN_IDLE_MS = 5_000
const SETTLED_AFTER_MS = 30_000
/** Failures older than this no longer count against a path. */
const FAILURE_MEMORY_MS = 5 * 60_000
/** How long an incoming probe stream waits for its device's profile to make it a member. */
const PROBE_MEMBERSHIP_WAIT_MS = 5_000
/**
 * A link that never answered is given this long for its first answer: the other side may be
 * waiting for our profile (PROBE_MEMBERSHIP_WAIT_MS) before it answers or refuses.
 */
const FIRST_ANSWER_WAIT_MS = PROBE_MEMBERSHIP_WAIT_MS + LINK_DEAD_MS
/**
 * A link that never answered and has been silent this long (no answer, no refusal: the other
 * side is unreachable) is dead: aborted, so the device is not shown online on a dead path.
 */
const UNANSWERED_DEAD_MS = 8_000

export interface LinkManagerComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface LinkManagerInit {
  /** Links are kept and ranked to devices of the account only. */
  isMember(device: string): boolean
  /** Whether a device turns out a member once its profile arrives (probes may come first). */
  memberSoon?(device: string, timeoutMs: number): Promise<boolean>
  /** Interface class overrides by interface name, e.g. { eth1: 'wifi' }. */
  interfaceKinds?: Record<string, LinkKind>
}

export interface LinkManagerEvents {
  /** The link that should carry the tunnel to `device` changed (or is gone). */
  'link:active': CustomEvent<{ device: string, connection?: Connection }>
}

export interface LinkManager extends TypedEventEmitter<LinkManagerEvents> {
  /** A device may have become a member: start probing its links. */
  refresh(device: string): void
  /** The connection the tunnel to `device` should ride. */
  active(device: string): Connection | undefined
  links(device?: string): LinkInfo[]
  /**
   * The tunnel to `device` moved data: its links are probed fast for a while, and the active
   * one is confirmed at once if it had been idle (so the first bytes do not wait on a dead link).
   */
  activity(device: string): void
}

interface Link extends LinkFacts {
  conn: Connection
  device: string
  iface?: string
  answered: boolean
  probing: boolean
  prober?: Prober
  /** When the other side last showed it is there (opened, an answer, a refusal): Date.now(). */
  heardAt: number
}

/**
 * Every usable way to each member device: one connection per local interface (Ethernet,
 * Wi-Fi, USB…), kept up as standby, probed, and ranked. Only the device with the lower id
 * dials the extra links, so a pair never races to make the same link twice.
 */
class DefaultLinkManager extends TypedEventEmitter<LinkManagerEvents> implements LinkManager, Startable {
  private readonly components: LinkManagerComponents
  private readonly init: LinkManagerInit
  private readonly log: Logger
  private readonly linksById = new Map<string, Link>()
  private readonly activeByDevice = new Map<string, string>()
  /** When a link last opened or closed (Date.now()): links are maintained fast for a while after. */
  private lastChange = Date.now()
  private stopped = false
  /** When the tunnel to each device last moved data (performance.now()). */
  private readonly lastActivity = new Map<string, number>()
  private readonly failures = new Map<string, number[]>()
  private readonly dialing = new Set<string>()
  private timer?: ReturnType<typeof setTimeout>

  constructor (components: LinkManagerComponents, init: LinkManagerInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:links')
    this.onOpen = this.onOpen.bind(this)
    this.onClose = this.onClose.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/link-manager'
  readonly [serviceCapabilities]: string[] = ['@companion/links']

  async start (): Promise<void> {
    await this.components.registrar.handle(PROBE_PROTOCOL, (stream, connection) => { void this.answer(stream, connection) }, { maxInboundStreams: 2, maxOutboundStreams: 2, runOnLimitedConnection: true })
    this.components.events.addEventListener('connection:open', this.onOpen)
    this.components.events.addEventListener('connection:close', this.onClose)
    this.scheduleMaintain()
  }

  /** Every second while links come and go, every 5 s once they settled. */
  private scheduleMaintain (): void {
    if (this.stopped) return
    const settled = Date.now() - this.lastChange > SETTLED_AFTER_MS
    this.timer = setTimeout(() => {
      this.maintain()
      this.scheduleMaintain()
    }, settled ? MAINTAIN_IDLE_MS : MAINTAIN_MS)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.stopped = true
    this.components.events.removeEventListener('connection:open', this.onOpen)
    this.components.events.removeEventListener('connection:close', this.onClose)
    await this.components.registrar.unhandle(PROBE_PROTOCOL)
  }

  /**
   * Probes are answered for members only. A member may start probing a moment before its
   * profile reached us (the exchange runs both ways at once): give that a few seconds.
   */
  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const device = connection.remotePeer.toString()
    const member = this.init.isMember(device) || await (this.init.memberSoon?.(device, PROBE_MEMBERSHIP_WAIT_MS) ?? false)
    if (!member || connection.status !== 'open') {
      stream.abort(new Error('probes are for members of the account'))
      return
    }
    // it probes us, so it now takes us for a member: probe back if an earlier try was refused
    this.refresh(device)
    await answerProbes(stream)
  }

  /** A link opened or closed: maintain every second again (and now, if we were settled). */
  private changedLinks (): void {
    const wasSettled = Date.now() - this.lastChange > SETTLED_AFTER_MS
    this.lastChange = Date.now()
    if (wasSettled && !this.stopped) {
      clearTimeout(this.timer)
      this.scheduleMaintain()
    }
  }

  activity (device: string): void {
    const now = performance.now()
    const last = this.lastActivity.get(device) ?? -Infinity
    this.lastActivity.set(device, now)
    if (now - last < LINK_BUSY_MS) return
    // traffic after a quiet spell: confirm the active link now, and go on at the busy pace
    const id = this.activeByDevice.get(device)
    if (id != null) this.linksById.get(id)?.prober?.kick()
  }

  /** How fast a link is probed: fast while young or busy (failover within 1 s), rarely while idle. */
  private paceOf (link: Link): ProbePace {
    const fast = { intervalMs: PROBE_INTERVAL_MS, deadMs: LINK_DEAD_MS }
    if (!link.answered) return { intervalMs: PROBE_INTERVAL_MS, deadMs: FIRST_ANSWER_WAIT_MS }
    if (Date.now() - link.upSince < PROBE_YOUNG_MS) return fast
    const active = this.activeByDevice.get(link.device) === link.id
    const busy = performance.now() - (this.lastActivity.get(link.device) ?? -Infinity) < LINK_BUSY_MS
    if (busy) return active ? fast : PROBE_STANDBY_BUSY
    return active ? PROBE_IDLE : PROBE_STANDBY_IDLE
  }

  active (device: string): Connection | undefined {
    const id = this.activeByDevice.get(device)
    return id == null ? undefined : this.linksById.get(id)?.conn
  }

  links (device?: string): LinkInfo[] {
    return [...this.linksById.values()]
      .filter(l => device == null || l.device === device)
      .map(l => {
        const active = this.activeByDevice.get(l.device) === l.id
        return {
          device: l.device,
          id: l.id,
          kind: l.kind,
          local: l.iface ?? null,
          remote: l.conn.remoteAddr.toString(),
          state: active ? 'active' as const : l.answered ? 'standby' as const : 'probing' as const,
          rank: Math.round(linkScore(l)),
          rttMs: l.rttMs ?? null,
          active
        }
      })
  }

  private kindOf (conn: Connection, iface: string | undefined): LinkKind {
    if (!conn.direct || conn.limits != null) return 'relayed'
    if (iface == null) return 'unknown'
    return this.init.interfaceKinds?.[iface] ?? linkKindOf(iface)
  }

  private pathKey (device: string, iface: string | undefined): string {
    return `${device}/${iface ?? '?'}`
  }

  private recentFailures (key: string): number {
    const now = Date.now()
    const recent = (this.failures.get(key) ?? []).filter(t => now - t < FAILURE_MEMORY_MS)
    this.failures.set(key, recent)
    return recent.length
  }

  private onOpen (evt: CustomEvent<Connection>): void {
    const conn = evt.detail
    const device = conn.remotePeer.toString()
    const iface = conn.direct ? interfaceOfNewConnection(conn.remoteAddr) : undefined
    const link: Link = {
      id: conn.id, conn, device, iface, kind: this.kindOf(conn, iface), loss: 0, answered: false, probing: false,
      failures: this.recentFailures(this.pathKey(device, iface)), upSince: Date.now(), heardAt: Date.now()
    }
    this.linksById.set(conn.id, link)
    this.changedLinks()
    this.refresh(device)
  }

  /** A device became a member (or a link to one opened): probe its links. Others are not links. */
  refresh (device: string): void {
    if (!this.init.isMember(device)) return
    for (const link of this.linksById.values()) {
      if (link.device === device && !link.probing && link.conn.status === 'open') this.probe(link)
    }
  }

  private probe (link: Link): void {
    link.probing = true
    const { conn, device, iface } = link
    link.prober = runProbes(conn, PROBE_PROTOCOL, {
      rtt: (ms) => {
        if (!link.answered) {
          link.answered = true
          link.upSince = Date.now()
        }
        link.rttMs = ms
        link.heardAt = Date.now()
        link.loss = link.loss * 0.9
        this.rerank(device)
      },
      lost: () => { link.loss = link.loss * 0.9 + 0.1 },
      dead: () => {
        // a link that never answered may be early rather than dead: try again (maintain) until silent too long
        if (!link.answered && Date.now() - link.heardAt < UNANSWERED_DEAD_MS) {
          link.probing = false
          return
        }
        this.log('link %s to %s (%s) is dead', conn.id, device, iface ?? '?')
        const key = this.pathKey(device, iface)
        this.failures.set(key, [...(this.failures.get(key) ?? []), Date.now()])
        conn.abort(new Error('link dead: probes unanswered'))
      },
      // it is there but does not take us for a member (yet): probe again when it probes us, or next maintain
      refused: () => {
        link.heardAt = Date.now()
        link.probing = false
      }
    }, this.log, () => this.paceOf(link))
  }

  private onClose (evt: CustomEvent<Connection>): void {
    const link = this.linksById.get(evt.detail.id)
    if (link == null) return
    this.linksById.delete(link.id)
    this.changedLinks()
    this.rerank(link.device)
  }

  /** Pick the active link of a device again; tell the tunnel when it changes. */
  private rerank (device: string): void {
    if (!this.init.isMember(device)) return
    const candidates = [...this.linksById.values()].filter(l => l.device === device && l.conn.status === 'open' && l.answered)
    const current = this.activeByDevice.get(device)
    const stillThere = current != null && candidates.some(l => l.id === current) ? current : undefined
    const next = chooseActive(candidates, stillThere, Date.now())
    if (next === current) return
    if (next == null) this.activeByDevice.delete(device)
    else this.activeByDevice.set(device, next)
    const conn = next == null ? undefined : this.linksById.get(next)?.conn
    this.log('active link to %s: %s', device, next == null ? 'none' : `${this.linksById.get(next)?.iface ?? '?'} (${next})`)
    this.safeDispatchEvent('link:active', { detail: { device, connection: conn } })
  }

  /**
   * Both devices may have dialled the same path (each found the other): keep one connection
   * per local interface, the active one if it is among them, and close the idle rest.
   */
  private dedupe (device: string): void {
    const active = this.activeByDevice.get(device)
    const byIface = new Map<string, Link[]>()
    for (const link of this.linksById.values()) {
      if (link.device !== device || link.iface == null || link.conn.status !== 'open') continue
      byIface.set(link.iface, [...(byIface.get(link.iface) ?? []), link])
    }
    for (const group of byIface.values()) {
      if (group.length < 2) continue
      const keep = group.find(l => l.id === active) ?? group.find(l => l.answered) ?? group[0]
      for (const extra of group) {
        // never cut a stream in use (a pairing, a DHT query): try again next round
        if (extra === keep || extra.conn.streams.some(st => st.protocol !== PROBE_PROTOCOL)) continue
        this.log('closing a duplicate link %s to %s', extra.id, device)
        void extra.conn.close().catch(() => { extra.conn.abort(new Error('duplicate link')) })
      }
    }
  }

  /** Dial a standby link on every local interface that can reach a member device and has none. */
  private maintain (): void {
    const self = this.components.peerId.toString()
    const devices = new Set([...this.linksById.values()].map(l => l.device))
    for (const device of devices) {
      this.refresh(device)
      this.rerank(device)
      if (!(self < device) || !this.init.isMember(device)) continue
      this.dedupe(device)
      const links = [...this.linksById.values()].filter(l => l.device === device)
      const linked = new Set(links.map(l => l.iface))
      const peerId = links[0]?.conn.remotePeer
      if (peerId == null) continue
      void this.components.peerStore.get(peerId)
        .then(peer => {
          for (const { multiaddr } of peer.addresses) {
            // relayed addresses are not a local interface's path; the dialer falls back to them
            if (multiaddr.getComponents().some(c => c.name === 'p2p-circuit')) continue
            const iface = interfaceOf(multiaddr)
            const key = this.pathKey(device, iface)
            if (iface == null || linked.has(iface) || this.dialing.has(key)) continue
            linked.add(iface)
            this.dialing.add(key)
            this.components.connectionManager.openConnection(multiaddr, { force: true, signal: AbortSignal.timeout(3_000) })
              .catch(() => {})
              .finally(() => { this.dialing.delete(key) })
          }
        }, () => {})
    }
  }
}

export function linkManager (init: LinkManagerInit): (components: LinkManagerComponents) => LinkManager {
  return (components) => new DefaultLinkManager(components, init)
}

