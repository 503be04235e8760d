import { createConnection, createServer, type Server } from 'node:net'
import { logger } from '@libp2p/logger'
import { ChannelError, Priority, type Tunnels } from '../link/index.ts'
import { PortInUseError } from './errors.ts'
import { pipeChannel } from './pipe.ts'

const log = logger('companion:forward')

/** Channels named `tcp:<port>` reach TCP port <port> on the other device's loopback. */
export const TCP_CHANNEL_PREFIX = 'tcp:'

export function tcpChannelPort (name: string): number | undefined {
  if (!name.startsWith(TCP_CHANNEL_PREFIX)) return undefined
  const port = Number(name.slice(TCP_CHANNEL_PREFIX.length))
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined
}

/**
 * The "virtual socket": a TCP port on this device that reaches a port on another. The other
 * side connects only to ports it allows (`companion daemon --allow-port`).
 */
export class Forwards {
  private readonly tunnels: Tunnels
  private readonly allowed: () => number[]

  constructor (init: { tunnels: Tunnels, allowedPorts(): number[] }) {
    this.tunnels = init.tunnels
    this.allowed = init.allowedPorts
    // the serving side: authorization (grant and port) already passed when we get here
    this.tunnels.handle(`${TCP_CHANNEL_PREFIX}*`, (channel) => {
      const port = tcpChannelPort(channel.name) as number
      const socket = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true })
      socket.once('error', (err) => { channel.reset(`could not connect to port ${port}: ${err.message}`) })
      socket.once('connect', () => { void pipeChannel(socket, channel) })
    })
  }

  /** Refuse a `tcp:` channel to a port this device does not allow. */
  authorize (name: string): void {
    if (!name.startsWith(TCP_CHANNEL_PREFIX)) return
    const port = tcpChannelPort(name)
    if (port == null) throw new ChannelError(`"${name}" is not a TCP port`)
    if (!this.allowed().includes(port)) throw new ChannelError(`port ${port} is not open for forwarding on that device (companion daemon --allow-port ${port})`)
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
