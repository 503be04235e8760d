import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { validateDeviceKind, validateDeviceName, type DeviceNode } from '../node/index.ts'
import type { DeviceDirectory, DeviceEntry } from './devices.ts'
import { DialFailedError, InvalidAddressError, NotADeviceError } from './errors.ts'
import type { DevicePatch, Status } from './control/types.ts'
import type { DaemonApi } from './control/routes.ts'
import { saveSettings, type Settings } from './settings.ts'
import { VERSION } from './version.ts'

/** How long `dial` waits for the new device to show its profile. */
const DIAL_PROFILE_WAIT_MS = 3_000

export interface SelfApiInit {
  dataDir: string
  node: DeviceNode
  directory: DeviceDirectory
  /** The remembered settings, as they are now (a rename replaces them). */
  settings: { current: Settings }
  /** The SMS part of status. */
  sms(): Status['sms']
}

/** This device and the devices it knows, as the control API offers them: status, devices, rename, dial. */
export class SelfApi implements DaemonApi {
  private readonly init: SelfApiInit
  private readonly startedAt = Date.now()

  constructor (init: SelfApiInit) {
    this.init = init
  }

  async status (): Promise<Status> {
    const { node, settings, dataDir } = this.init
    return {
      id: node.libp2p.peerId.toString(),
      name: settings.current.name,
      kind: settings.current.kind,
      account: node.account.id,
      accountEpoch: node.account.epoch,
      addresses: node.addresses(),
      sms: this.init.sms(),
      uptimeMs: Date.now() - this.startedAt,
      memory: memoryNow(),
      version: VERSION,
      dataDir
    }
  }

  async devices (): Promise<DeviceEntry[]> {
    return await this.init.directory.list()
  }

  async device (query: string): Promise<DeviceEntry> {
    return await this.init.directory.find(query)
  }

  async updateSelf (patch: DevicePatch): Promise<Status> {
    const { settings } = this.init
    // validate everything before changing anything
    const name = patch.name === undefined ? settings.current.name : validateDeviceName(patch.name)
    const kind = patch.kind === undefined ? settings.current.kind : validateDeviceKind(patch.kind)
    const next = { ...settings.current, name, kind }
    await saveSettings(this.init.dataDir, next)
    settings.current = next
    void this.init.node.changed()
    return await this.status()
  }

  async dial (address: string): Promise<DeviceEntry> {
    let ma: Multiaddr
    try {
      ma = multiaddr(address)
    } catch (err) {
      throw new InvalidAddressError(`${address} is not a multiaddr (${(err as Error).message})`)
    }
    let peerId: PeerId
    try {
      peerId = await this.init.node.libp2p.services.dialer.dialAddress(ma)
    } catch (err) {
      throw new DialFailedError(`could not connect to ${address}: ${(err as Error).message}`)
    }
    await this.profileOf(peerId, DIAL_PROFILE_WAIT_MS)
    const entry = (await this.init.directory.list()).find(d => d.id === peerId.toString())
    if (entry == null) throw new NotADeviceError(`${address} answered but is not a companion device (it showed no valid profile)`)
    return entry
  }

  /** Resolves once the device has shown its profile (the exchange runs right after identify), or after `ms`. */
  private async profileOf (peerId: PeerId, ms: number): Promise<void> {
    const service = this.init.node.libp2p.services.profiles
    if (this.init.node.book.get(peerId.toString()) != null) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        service.removeEventListener('device:profile', onProfile)
        resolve()
      }
      const onProfile = (evt: CustomEvent<{ peerId: PeerId }>): void => { if (evt.detail.peerId.equals(peerId)) done() }
      const timer = setTimeout(done, ms)
      service.addEventListener('device:profile', onProfile)
    })
  }
}

function memoryNow (): { rssMb: number, heapMb: number, externalMb: number } {
  const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024 * 10) / 10
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rssMb: mb(rss), heapMb: mb(heapUsed), externalMb: mb(external) }
}
