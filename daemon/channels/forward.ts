import { createConnection, createServer, type Server } from 'node:net'
import { logger } from '@libp2p/logger'
import { Priority, type ChannelService, type Tunnels } from '../../link/index.ts'
import { PortInUseError } from '../errors.ts'
import { pipeChannel } from '../pipe.ts'

const log = logger('companion:forward')

/** Channels named `tcp:<port>` reach TCP port <port> on the other device's loopback. */
export const TCP_CHANNEL_PREFIX = 'tcp:'

export function tcpChannelPort (name: string): number | undefined {
  if (!name.startsWith(TCP_CHANNEL_PREFIX)) return undefined
  const port = Number(name.slice(TCP_CHANNEL_PREFIX.length))
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
}

/**
 * The serving side of forwards: a `tcp:<port>` channel reaches 127.0.0.1:<port> here. The
 * channel policy (channels/policy.ts) already checked the grant and that the port is allowed
 * (`companion daemon --allow-port`).
 */
export const forwardService: ChannelService = {
  name: `${TCP_CHANNEL_PREFIX}*`,
  serve: (channel) => {
    const port = tcpChannelPort(channel.name) as number
    const socket = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true })
    socket.once('error', (err) => { channel.reset(`could not connect to port ${port}: ${err.message}`) })
    socket.once('connect', () => { void pipeChannel(socket, channel) })
  }
}

/** The "virtual socket": a TCP port on this device that reaches a port on another. */
export class Forwards {
  private readonly tunnels: Tunnels

  constructor (init: { tunnels: Tunnels }) {
    this.tunnels = init.tunnels
  }

  /** Listen on 127.0.0.1:localPort; every connection becomes a channel to device:remotePort. */
  async listen (localPort: number, device: string, remotePort: number): Promise<Server> {
    // half-open both ways, like ssh -L: one side ending its writes does not cut the other's
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      socket.pause()
      this.tunnels.open(device, `${TCP_CHANNEL_PREFIX}${remotePort}`, Priority.BULK).then(
        (channel) => { socket.resume(); void pipeChannel(socket, channel) },
        (err: Error) => {
          log('forward to %s:%d refused - %s', device, remotePort, err.message)
          socket.destroy()
        }
      )
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new PortInUseError(err.code === 'EADDRINUSE' ? `port ${localPort} is already in use here` : err.message))
      })
      server.listen(localPort, '127.0.0.1', () => { resolve() })
    })
    return server
  }
}
