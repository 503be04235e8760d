import { TypedEventEmitter } from 'main-event'
import { lpStream } from '@libp2p/utils'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { DEVICE_INFO_PROTOCOL, DEVICE_INFO_TIMEOUT_MS, DEVICE_KINDS, MAX_DEVICE_INFO_BYTES, MAX_DEVICE_NAME_BYTES, KNOWN_DEVICE_TAG, type DeviceKind } from './constants.ts'
import { InvalidDeviceInfoError, ProtocolViolationError } from './errors.ts'

/** What a device says about itself on every connection. Replaced by signed profiles later. */
export interface DeviceInfo {
  name: string
  kind: DeviceKind
  /** Software version of the daemon, for diagnostics. */
  version: string
}

/** Peer store metadata key holding a device's last DeviceInfo (JSON, UTF-8). */
export const DEVICE_INFO_METADATA = 'companion/info'

export interface DeviceInfoComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface DeviceInfoInit {
  /** Our own info; asked for on every exchange so a rename is picked up at once. */
  getInfo(): DeviceInfo
  /** @default DEVICE_INFO_TIMEOUT_MS */
  timeout?: number
}

export interface DeviceInfoEvents {
  /** A device's info arrived (first time, or changed). */
  'device:info': CustomEvent<{ peerId: PeerId, info: DeviceInfo }>
}

export interface DeviceInfoService extends TypedEventEmitter<DeviceInfoEvents> {
  /** Tell every connected device our info again (after a rename). */
  announce(): Promise<void>
  /** The last info a device sent us, if any (persisted across restarts). */
  get(peerId: PeerId): Promise<DeviceInfo | undefined>
}

/** What lpStream throws when a peer's length prefix is malformed or too large: a violation, not bad luck. */
const LENGTH_PREFIX_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'])

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Validate a name a user or a peer gives a device. Throws InvalidDeviceInfoError. */
export function validateDeviceName (name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new InvalidDeviceInfoError('a device name must be a non-empty string')
  if (encoder.encode(name).byteLength > MAX_DEVICE_NAME_BYTES) throw new InvalidDeviceInfoError(`a device name is at most ${MAX_DEVICE_NAME_BYTES} bytes`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidDeviceInfoError('a device name may not contain control characters')
  return name
}

export function validateDeviceKind (kind: unknown): DeviceKind {
  if (!DEVICE_KINDS.includes(kind as DeviceKind)) throw new InvalidDeviceInfoError(`a device kind is one of ${DEVICE_KINDS.join(', ')}`)
  return kind as DeviceKind
}

/** Decode and check a DeviceInfo from the wire. Throws on anything but a well-formed record. */
export function decodeDeviceInfo (bytes: Uint8Array): DeviceInfo {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch {
    throw new InvalidDeviceInfoError('device info is not UTF-8 JSON')
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidDeviceInfoError('device info is not an object')
  const { name, kind, version } = value as Record<string, unknown>
  if (typeof version !== 'string' || version.length > 32) throw new InvalidDeviceInfoError('device info has no valid version')
  return { name: validateDeviceName(name), kind: validateDeviceKind(kind), version }
}

export function encodeDeviceInfo (info: DeviceInfo): Uint8Array {
  return encoder.encode(JSON.stringify({ name: info.name, kind: info.kind, version: info.version }))
}

class DefaultDeviceInfoService extends TypedEventEmitter<DeviceInfoEvents> implements DeviceInfoService, Startable {
  private readonly components: DeviceInfoComponents
  private readonly init: DeviceInfoInit
  private readonly timeout: number
  private readonly log: Logger

  constructor (components: DeviceInfoComponents, init: DeviceInfoInit) {
    super()
    this.components = components
    this.init = init
    this.timeout = init.timeout ?? DEVICE_INFO_TIMEOUT_MS
    this.log = components.logger.forComponent('companion:device-info')
    this.onIdentify = this.onIdentify.bind(this)
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/device-info'

  async start (): Promise<void> {
    await this.components.registrar.handle(DEVICE_INFO_PROTOCOL, this.handle, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    await this.components.registrar.unhandle(DEVICE_INFO_PROTOCOL)
  }

  async get (peerId: PeerId): Promise<DeviceInfo | undefined> {
    try {
      const peer = await this.components.peerStore.get(peerId)
      const bytes = peer.metadata.get(DEVICE_INFO_METADATA)
      return bytes == null ? undefined : decodeDeviceInfo(bytes)
    } catch {
      return undefined
    }
  }

  async announce (): Promise<void> {
    await Promise.allSettled(this.components.connectionManager.getConnections()
      .filter(conn => conn.status === 'open')
      .map(async conn => { await this.exchange(conn) }))
  }

  private onIdentify (evt: CustomEvent<{ connection: Connection, protocols: string[] }>): void {
    const { connection, protocols } = evt.detail
    // the dialling side starts the exchange; the other answers in its handler
    if (connection.direction !== 'outbound' || !protocols.includes(DEVICE_INFO_PROTOCOL)) return
    void this.exchange(connection)
  }

  /** Send our info and read theirs on a new stream. */
  private async exchange (connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeout)
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(DEVICE_INFO_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_DEVICE_INFO_BYTES })
      await lp.write(encodeDeviceInfo(this.init.getInfo()), { signal })
      const info = decodeDeviceInfo((await lp.read({ signal })).subarray())
      await stream.close({ signal })
      await this.remember(connection.remotePeer, info)
    } catch (err) {
      this.onFailure(connection, stream, err as Error)
    }
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeout)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_DEVICE_INFO_BYTES })
      const info = decodeDeviceInfo((await lp.read({ signal })).subarray())
      await lp.write(encodeDeviceInfo(this.init.getInfo()), { signal })
      await stream.close({ signal })
      await this.remember(connection.remotePeer, info)
    } catch (err) {
      this.onFailure(connection, stream, err as Error)
    }
  }

  private async remember (peerId: PeerId, info: DeviceInfo): Promise<void> {
    const previous = await this.get(peerId)
    await this.components.peerStore.merge(peerId, {
      metadata: { [DEVICE_INFO_METADATA]: encodeDeviceInfo(info) },
      tags: { [KNOWN_DEVICE_TAG]: { value: 50 } }
    })
    if (previous == null || previous.name !== info.name || previous.kind !== info.kind || previous.version !== info.version) {
      this.log('device %p is %s (%s)', peerId, info.name, info.kind)
    }
    this.safeDispatchEvent('device:info', { detail: { peerId, info } })
  }

  /** A peer that sends garbage is cut off; a timeout or a closed connection is only logged. */
  private onFailure (connection: Connection, stream: Stream | undefined, err: Error): void {
    stream?.abort(err)
    const violation = err instanceof InvalidDeviceInfoError || LENGTH_PREFIX_ERRORS.has(err.name)
    if (violation) {
      this.log.error('device %p sent invalid device info, disconnecting - %s', connection.remotePeer, err.message)
      void connection.close().catch(() => connection.abort(new ProtocolViolationError(err.message)))
    } else {
      this.log('device info exchange with %p failed - %s', connection.remotePeer, err.message)
    }
  }
}

export function deviceInfo (init: DeviceInfoInit): (components: DeviceInfoComponents) => DeviceInfoService {
  return (components) => new DefaultDeviceInfoService(components, init)
}
