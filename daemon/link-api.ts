import type { Duplex } from 'node:stream'
import type { Server } from 'node:net'
import { NotAMemberError, type DeviceNode } from '../node/index.ts'
import type { Channel, Priority } from '../link/index.ts'
import type { LinkApi } from './control/link-routes.ts'
import type { LinkRow } from './control/contract.ts'
import type { DeviceDirectory } from './devices.ts'
import { ChannelRefusedError } from './errors.ts'
import { Forwards } from './channels/index.ts'
import { pipeChannel } from './pipe.ts'

/** Links, channels and forwards as the control API offers them. */
export class LinkService implements LinkApi {
  private readonly node: DeviceNode
  private readonly directory: DeviceDirectory
  private readonly forwards: Forwards

  constructor (init: { node: DeviceNode, directory: DeviceDirectory }) {
    this.node = init.node
    this.directory = init.directory
    this.forwards = new Forwards({ tunnels: this.node.libp2p.services.tunnels })
  }

  async links (device?: string): Promise<LinkRow[]> {
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

