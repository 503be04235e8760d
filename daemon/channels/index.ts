/**
 * The daemon's channel services, registered from one list (echo, TCP forwards, the message
 * log, and any later one), as KDE Connect registers its plugins.
 */
import type { ChannelService, Tunnels } from '../../link/index.ts'

export { ChannelPolicy } from './policy.ts'
export { echoService, ECHO_CHANNEL } from './echo.ts'
export { Forwards, forwardService, TCP_CHANNEL_PREFIX } from './forward.ts'

/** Serve every service on the tunnel; returns what takes them down again. */
export function registerChannelServices (tunnels: Tunnels, services: ChannelService[]): () => void {
  for (const service of services) tunnels.handle(service)
  return () => { for (const service of services) tunnels.unhandle(service.name) }
}
