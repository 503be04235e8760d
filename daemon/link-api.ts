import type { Duplex } from 'node:stream'
import type { Server } from 'node:net'
import type { DeviceNode } from '../node/create-node.ts'
import { isCapability, type Grants } from '../node/identity/grants.ts'
import { NotAMemberError } from '../node/identity/errors.ts'
import { ChannelError, Priority, type Channel, type LinkInfo } from '../link/index.ts'
import type { LinkApi } from './control/link-routes.ts'
import type { DeviceDirectory } from './devices.ts'
import { ChannelRefusedError } from './errors.ts'
import { Forwards } from './forwards.ts'
import { pipeChannel } from './pipe.ts'

/** Every daemon echoes on this channel: for `companion connect <device> echo` and latency checks. */
export const ECHO_CHANNEL = 'echo'

/** Links, channels and forwards as the control API offers them. */
export class LinkService implements LinkApi {
  private readonly node: DeviceNode
  private readonly directory: DeviceDirectory
  readonly forwards: Forwards

  constructor (init: { node: DeviceNode, directory: DeviceDirectory, allowedPorts(): number[] }) {
    this.node = init.node
    this.directory = init.directory
    const tunnels = this.node.libp2p.services.tunnels
    this.forwards = new Forwards({ tunnels, allowedPorts: init.allowedPorts })
    tunnels.handle(ECHO_CHANNEL, (channel) => {
      void (async () => {
        try {
          for await (const chunk of channel) await channel.write(chunk)
          channel.end()
        } catch {}
      })()
    })
  }

  /** The channel policy: members with the grant, and (for forwards) an allowed port. */
  static authorize (grants: Grants, forwards: () => Forwards | undefined, device: string, name: string): void {
    const capability = isCapability(`channel:${name}`) ? `channel:${name}` : 'channels'
    if (!grants.may(device, capability)) throw new ChannelError(`this device does not let yours open channels (${capability}); ask its owner to run companion grant`)
    forwards()?.authorize(name)
  }

  /** The `tunnel` grant: without it a device has no channel with this one, not even the account's own. */
  static authorizeTunnel (grants: Grants, device: string, direction: 'open' | 'accept'): void {
    if (grants.may(device, 'tunnel')) return
    throw new ChannelError(direction === 'accept'
      ? 'this device does not let yours use its tunnel (tunnel); ask its owner to run companion grant'
      : 'this device took that device\'s tunnel grant: no channel either way; companion grant <device> tunnel gives it back')
  }

  async links (device?: string): Promise<Array<LinkInfo & { name: string }>> {
    const id = device == null ? undefined : (await this.directory.find(device)).id
    const names = new Map((await this.directory.list()).map(d => [d.id, d.name]))
    return this.node.libp2p.services.links.links(id).map(l => ({ ...l, name: names.get(l.device) ?? l.device }))
  }

  async openChannel (device: string, name: string, priority: Priority): Promise<Channel> {
    const target = await this.directory.find(device)
    if (target.relation !== 'member') throw new NotAMemberError(`${target.name} is not a member of this account; pair it first`)
    try {
      return await this.node.libp2p.services.tunnels.open(target.id, name, priority)
    } catch (err) {
      throw new ChannelRefusedError(`${target.name} refused channel ${name}: ${(err as Error).message}`)
    }
  }

  async forward (localPort: number, device: string, remotePort: number, signal: AbortSignal): Promise<{ device: string }> {
    const target = await this.directory.find(device)
    if (target.relation !== 'member') throw new NotAMemberError(`${target.name} is not a member of this account; pair it first`)
    const server: Server = await this.forwards.listen(localPort, target.id, remotePort)
    signal.addEventListener('abort', () => { server.close() }, { once: true })
    return { device: target.id }
  }

  async pipe (socket: Duplex, channel: Channel): Promise<void> {
    await pipeChannel(socket, channel)
  }
}

