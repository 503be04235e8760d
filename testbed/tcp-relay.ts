import { createServer, connect, type Server, type Socket } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'

/** A node listening on loopback TCP (its first address is the relay's target). */
interface Listening { peerId: PeerId, getMultiaddrs(): Multiaddr[] }

/**
 * A loopback TCP relay to `target`, for faults of the path between two in-process nodes: it
 * can go silent (`freeze`), as a path does when a cable is pulled (nothing is closed, bytes
 * just stop arriving), or hold every chunk `delayMs` each way, as a slow or busy path would.
 */
export class TcpRelay {
  readonly server: Server
  private readonly sockets: Socket[] = []
  private readonly delayMs: number
  private frozen = false

  constructor (target: number, delayMs = 0) {
    this.delayMs = delayMs
    this.server = createServer((inbound) => {
      const outbound = connect(target, '127.0.0.1')
      for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
        from.on('data', (data: Buffer) => {
          if (this.frozen) return
          if (this.delayMs === 0) to.write(data)
          else setTimeout(() => { if (!this.frozen && !to.destroyed) to.write(data) }, this.delayMs)
        })
        // a dead path carries no close either
        from.on('error', () => { if (!this.frozen) to.destroy() })
        from.on('close', () => { if (!this.frozen) to.destroy() })
        this.sockets.push(from)
      }
    })
  }

  /** A relay in front of `node`, listening; dial `address` to reach the node through it. */
  static async before (node: Listening, delayMs = 0): Promise<{ relay: TcpRelay, address: Multiaddr }> {
    const target = node.getMultiaddrs()[0]?.toString().split('/')[4]
    if (target == null) throw new Error('the node listens on no TCP address')
    const relay = new TcpRelay(Number(target), delayMs)
    const port = await relay.listen()
    return { relay, address: multiaddr(`/ip4/127.0.0.1/tcp/${port}/p2p/${node.peerId.toString()}`) }
  }

  /** Listen on an ephemeral loopback port; resolves with it. */
  async listen (): Promise<number> {
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as { port: number }).port
  }

  freeze (): void { this.frozen = true }

  close (): void {
    for (const socket of this.sockets) socket.destroy()
    this.server.close()
  }
}
