/**
 * The link layer as everything above it sees it: the tunnel (channels to another device of the
 * account, with priorities, on whichever link is best), the link manager's view of links, and
 * the factories the node registers as libp2p services. Nothing here knows of SMS, the daemon
 * or the node's identity.
 */
export type { Channel } from './channel.ts'
export { Priority, TUNNEL_PROTOCOL } from './constants.ts'
export { ChannelError, TunnelProtocolError } from './errors.ts'
export { ipOf, localInterfaces } from './link-kind.ts'
export { linkManager, type LinkManager, type LinkManagerEvents } from './link-manager.ts'
export type { LinkInfo, LinkKind } from './link-types.ts'
export { tunnels, type ChannelHandler, type ChannelService, type TunnelEvents, type Tunnels } from './tunnels.ts'
