import { isCapability, type Grants } from '../../node/index.ts'
import { ChannelError } from '../../link/index.ts'
import { TCP_CHANNEL_PREFIX, tcpChannelPort } from './forward.ts'

export interface ChannelPolicyInit {
  grants: Grants
  /** Local ports other devices may reach with `companion forward` (read on every channel: settings change). */
  allowedPorts(): number[]
}

/**
 * Who may open which channel here, decided before the node exists and handed to the tunnel:
 * the `tunnel` grant for every channel, the channel's own grant (`channel:<name>`, else
 * `channels`) where it asks for one, and for `tcp:<port>` a port this device allows.
 */
export class ChannelPolicy {
  private readonly init: ChannelPolicyInit

  constructor (init: ChannelPolicyInit) {
    this.init = init
    this.authorize = this.authorize.bind(this)
    this.authorizeTunnel = this.authorizeTunnel.bind(this)
  }

  /** May `device` open channel `name` here? Throws ChannelError with the reason. */
  authorize (device: string, name: string): void {
    const capability = isCapability(`channel:${name}`) ? `channel:${name}` : 'channels'
    if (!this.init.grants.may(device, capability)) throw new ChannelError(`this device does not let yours open channels (${capability}); ask its owner to run companion grant`)
    if (!name.startsWith(TCP_CHANNEL_PREFIX)) return
    const port = tcpChannelPort(name)
    if (port == null) throw new ChannelError(`"${name}" is not a TCP port`)
    if (!this.init.allowedPorts().includes(port)) throw new ChannelError(`port ${port} is not open for forwarding on that device (companion daemon --allow-port ${port})`)
  }

  /** The `tunnel` grant: without it a device has no channel with this one, not even the account's own. */
  authorizeTunnel (device: string, direction: 'open' | 'accept'): void {
    if (this.init.grants.may(device, 'tunnel')) return
    throw new ChannelError(direction === 'accept'
      ? 'this device does not let yours use its tunnel (tunnel); ask its owner to run companion grant'
      : 'this device took that device\'s tunnel grant: no channel either way; companion grant <device> tunnel gives it back')
  }
}
