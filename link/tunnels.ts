import { randomBytes } from 'node:crypto'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import { serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FrameReader } from '../framing/frames.ts'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { FrameType, Priority, TUNNEL_PROTOCOL } from './constants.ts'
import type { Channel } from './channel.ts'
import { ChannelError, TunnelProtocolError } from './errors.ts'
import { decodeFrame, encodeFrame, type Frame } from './frames.ts'
import type { LinkManager } from './link-manager.ts'
import { TunnelSession } from './session.ts'

/** How long the tunnel handshake may take on a new link. */
const HANDSHAKE_TIMEOUT_MS = 5_000
/** RESUME and RESUME_OK are a few dozen bytes; anything longer is not a handshake. */
const MAX_HANDSHAKE_FRAME = 64

export type ChannelHandler = (channel: Channel) => void

/**
 * A service offered on a channel name, as KDE Connect's plugins are on packet types: the
 * daemon registers every one of them from one list. `name` ending in `*` serves every name
 * with that prefix; an `everyMember` service (the account's own, like the message log) skips
 * the channel grants.
 */
export interface ChannelService {
  readonly name: string
  readonly everyMember?: boolean
  serve: ChannelHandler
}

export interface TunnelsComponents {
  peerId: PeerId
  registrar: Registrar
  logger: ComponentLogger
  /** The link manager service (registered before this one). */
  links: LinkManager
}

export interface TunnelsInit {
  /** Only devices of the account may have a tunnel. */
  isMember(device: string): boolean
  /** May `device` open channel `name` here? Throw with the reason to refuse. */
  authorize(device: string, name: string): void
  /**
   * May `device` use the tunnel with this device at all (the `tunnel` grant)? Asked for every
   * channel opened or accepted, the account's own ones included. Throw with the reason to refuse.
   */
  authorizeTunnel?(device: string, direction: 'open' | 'accept'): void
  /** @default TUNNEL_GRACE_MS */
  graceMs?: number
}

export interface TunnelEvents {
  /** The tunnel to a member has a link to ride (again): channels opened now go through at once. */
  'tunnel:up': CustomEvent<{ device: string }>
  /** The tunnel to a member lost its last link; its channels wait (up to the grace period) for another. */
  'tunnel:down': CustomEvent<{ device: string }>
}

/** The user tunnel: the services' one way to talk to another device of the account. */
export interface Tunnels extends TypedEventTarget<TunnelEvents> {
  /** Serve a channel service (see ChannelService: `*` names, `everyMember`). */
  handle(service: ChannelService): void
  unhandle(name: string): void
  open(device: string, name: string, priority?: Priority): Promise<Channel>
  /** Can a channel to `device` go through now (a member with a link up)? */
  reachable(device: string): boolean
  /** `device` is no member any more (removed): its session, its channels and what they queued go. */
  forget(device: string): void
}

/** Read one frame from a stream's iterator; returns it and whatever came after it. */
async function firstFrame (source: AsyncIterator<Uint8Array | Uint8ArrayList>, signal: AbortSignal): Promise<{ frame: Frame, rest: Uint8Array }> {
  const frames = new FrameReader({ maxLength: MAX_HANDSHAKE_FRAME, tooLong: () => new TunnelProtocolError('handshake frame too long') })
  while (true) {
    const body = frames.next()
    if (body != null) return { frame: decodeFrame(body), rest: frames.rest() }
    signal.throwIfAborted()
    const next = await source.next()
    if (next.done === true) throw new TunnelProtocolError('the stream ended during the handshake')
    frames.push(next.value)
  }
}

class DefaultTunnels extends TypedEventEmitter<TunnelEvents> implements Tunnels, Startable {
  private readonly components: TunnelsComponents
  private readonly init: TunnelsInit
  private readonly log: Logger
  private readonly sessions = new Map<string, TunnelSession>()
  /** The connection (link) each device's tunnel rides now. */
  private readonly rides = new Map<string, string>()
  private readonly handlers = new Map<string, ChannelService>()
  private readonly relinking = new Map<string, Promise<void>>()

  constructor (components: TunnelsComponents, init: TunnelsInit) {
    super()
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:tunnel')
    this.onActive = this.onActive.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/tunnels'
  readonly [serviceCapabilities]: string[] = ['@companion/tunnels']
  readonly [serviceDependencies]: string[] = ['@companion/links']

  async start (): Promise<void> {
    await this.components.registrar.handle(TUNNEL_PROTOCOL, (stream, connection) => { void this.accept(stream, connection) }, { maxInboundStreams: 4, maxOutboundStreams: 4, runOnLimitedConnection: true })
    this.components.links.addEventListener('link:active', this.onActive)
  }

  async stop (): Promise<void> {
    this.components.links.removeEventListener('link:active', this.onActive)
    for (const session of this.sessions.values()) session.close('this device is shutting down')
    this.sessions.clear()
    await this.components.registrar.unhandle(TUNNEL_PROTOCOL)
  }

  handle (service: ChannelService): void {
    this.handlers.set(service.name, service)
  }

  unhandle (name: string): void {
    this.handlers.delete(name)
  }

  async open (device: string, name: string, priority: Priority = Priority.INTERACTIVE): Promise<Channel> {
    if (!this.init.isMember(device)) throw new ChannelError('that device is not a member of this account')
    this.init.authorizeTunnel?.(device, 'open')
    const session = this.session(device)
    if (this.initiates(device)) void this.relink(device)
    return await session.open(name, priority)
  }

  reachable (device: string): boolean {
    return this.components.links.active(device) != null && this.init.isMember(device)
  }

  forget (device: string): void {
    this.sessions.get(device)?.close('the device is no longer a member of this account')
    this.sessions.delete(device)
    this.rides.delete(device)
    this.relinking.delete(device)
  }

  private initiates (device: string): boolean {
    return this.components.peerId.toString() < device
  }

  private session (device: string, id?: Uint8Array): TunnelSession {
    let session = this.sessions.get(device)
    if (session == null) {
      session = new TunnelSession({
        device,
        initiator: this.initiates(device),
        id: id ?? randomBytes(16),
        graceMs: this.init.graceMs,
        log: this.log,
        onActivity: () => { this.components.links.activity(device) },
        onOpen: (name) => this.handlerFor(device, name)
      })
      this.sessions.set(device, session)
    }
    return session
  }

  private handlerFor (device: string, name: string): ChannelHandler {
    const entry = this.handlers.get(name) ?? [...this.handlers.entries()].find(([key]) => key.endsWith('*') && name.startsWith(key.slice(0, -1)))?.[1]
    // membership is checked for every tunnel, the tunnel grant for every channel, the
    // channel's grant only where the channel asks for one
    this.init.authorizeTunnel?.(device, 'accept')
    if (entry?.everyMember !== true) this.init.authorize(device, name)
    if (entry == null) throw new ChannelError(`no service for channel "${name}" on that device`)
    return entry.serve
  }

  private onActive (evt: CustomEvent<{ device: string, connection?: Connection }>): void {
    const { device, connection } = evt.detail
    if (this.initiates(device)) void this.relink(device)
    if (!this.init.isMember(device)) return
    this.safeDispatchEvent(connection == null ? 'tunnel:down' : 'tunnel:up', { detail: { device } })
  }

  /** Initiator: put the tunnel on the active link (one relink at a time per device). */
  private async relink (device: string): Promise<void> {
    const running = this.relinking.get(device)
    if (running != null) return await running
    const work = this.doRelink(device).finally(() => { this.relinking.delete(device) })
    this.relinking.set(device, work)
    await work
  }

  private async doRelink (device: string): Promise<void> {
    const conn = this.components.links.active(device)
    if (conn == null || !this.init.isMember(device)) return
    let session = this.session(device)
    if (session.attached && this.rides.get(device) === conn.id) return
    const signal = AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS)
    let stream: Stream | undefined
    try {
      stream = await conn.newStream(TUNNEL_PROTOCOL, { signal, runOnLimitedConnection: true })
      const source = stream[Symbol.asyncIterator]()
      stream.send(encodeFrame({ type: FrameType.RESUME, session: session.id, received: session.received }))
      const { frame, rest } = await firstFrame(source, signal)
      if (frame.type !== FrameType.RESUME_OK) throw new TunnelProtocolError('expected RESUME_OK')
      if (frame.fresh && session.established) {
        // the other side lost our session (it restarted): its channels are gone, start over
        session.close('the device restarted; open the channel again')
        this.sessions.delete(device)
        session = this.session(device)
        await stream.close().catch(() => {})
        this.relinking.delete(device)
        return await this.relink(device)
      }
      this.rides.set(device, conn.id)
      session.attach(stream, frame.received, source, rest)
      this.log('tunnel to %s rides %s', device, conn.id)
    } catch (err) {
      this.log('could not put the tunnel to %s on %s - %s', device, conn.id, (err as Error).message)
      stream?.abort(err as Error)
    }
  }

  /** Responder: the other device put the tunnel on a link. */
  private async accept (stream: Stream, connection: Connection): Promise<void> {
    const device = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS)
    try {
      if (!this.init.isMember(device)) throw new ChannelError('not a member of this account')
      if (this.initiates(device)) throw new TunnelProtocolError('the device with the lower id opens the tunnel')
      const source = stream[Symbol.asyncIterator]()
      const { frame, rest } = await firstFrame(source, signal)
      if (frame.type !== FrameType.RESUME) throw new TunnelProtocolError('expected RESUME')
      let session = this.sessions.get(device)
      let fresh = false
      if (session != null && !bytesEqual(session.id, frame.session)) {
        if (session.established) {
          session.close('the device restarted; open the channel again')
          this.sessions.delete(device)
          session = undefined
        } else {
          // opened before the other side ever connected: take its session id, keep what is
          // queued, and say it is new to us (the other side must not resume an older one)
          session.adopt(frame.session)
          fresh = true
        }
      }
      if (session == null) {
        session = this.session(device, frame.session)
        fresh = true
      }
      stream.send(encodeFrame({ type: FrameType.RESUME_OK, received: session.received, fresh }))
      this.rides.set(device, connection.id)
      session.attach(stream, frame.received, source, rest)
    } catch (err) {
      this.log('refused a tunnel from %s - %s', device, (err as Error).message)
      stream.abort(err as Error)
    }
  }
}

export function tunnels (init: TunnelsInit): (components: TunnelsComponents) => Tunnels {
  return (components) => new DefaultTunnels(components, init)
}
