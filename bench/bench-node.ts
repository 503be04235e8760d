/** The libp2p node of the throughput benchmarks: the daemon's stack, a tunnel, a sink on both paths. */
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Connection, Stream } from '@libp2p/interface'
import type { Channel } from '../link/index.ts'
import { Priority } from '../link/constants.ts'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { connectionStack } from '../node/stack.ts'
import { linkManager, type LinkManager } from '../link/link-manager.ts'
import { tunnels, type Tunnels } from '../link/tunnels.ts'

export type BenchNode = Libp2p<{ identify: unknown, links: LinkManager, tunnels: Tunnels }>

/** The raw libp2p stream's protocol, beside the tunnel's `sink` channel. */
export const RAW = '/companion-bench/sink/1.0.0'
/** Bytes per pass. */
export const TOTAL = 64 * 1024 * 1024
export const BLOCK = new Uint8Array(64 * 1024).fill(7)

export async function benchNode (): Promise<BenchNode> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    // the daemon's stack: both the tunnel and the raw stream ride it
    ...connectionStack(),
    services: {
      identify: identify(),
      links: linkManager({ isMember: () => true }),
      tunnels: tunnels({ isMember: () => true, authorize: () => {} })
    }
  }) as unknown as BenchNode
}

/** Count what arrives on the tunnel's `sink` channel and the raw stream; `count` gets each chunk's size. */
export async function serveSinks (node: BenchNode, count: (bytes: number) => void): Promise<void> {
  node.services.tunnels.handle({ name: 'sink', serve: (channel) => { void (async () => { for await (const chunk of channel) count(chunk.byteLength) })().catch(() => {}) } })
  await node.handle(RAW, (stream) => { stream.addEventListener('message', (evt) => { count(evt.data.byteLength) }) })
}

/** The tunnel's `sink` channel and a raw stream to it, on the connection `conn` from `node`. */
export async function openSinks (node: BenchNode, conn: Connection): Promise<{ channel: Channel, stream: Stream }> {
  // the tunnel comes up once the link answers probes
  let channel: Channel | undefined
  for (let i = 0; i < 50 && channel == null; i++) {
    channel = await node.services.tunnels.open(conn.remotePeer.toString(), 'sink', Priority.BULK).catch(async () => { await new Promise(resolve => setTimeout(resolve, 200)); return undefined })
  }
  if (channel == null) throw new Error('no tunnel')
  return { channel, stream: await conn.newStream(RAW) }
}
