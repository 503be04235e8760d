import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { noiseCrypto } from '../node/noise-crypto.ts'
import { withWholeWrites } from '../node/whole-writes.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { linkManager, type LinkManager } from '../link/link-manager.ts'
import { tunnels, type Tunnels } from '../link/tunnels.ts'
import { Priority } from '../link/constants.ts'
const TOTAL = 256 * 1024 * 1024
const BLOCK = new Uint8Array(64 * 1024).fill(7)
type Node = Libp2p<{ identify: unknown, links: LinkManager, tunnels: Tunnels }>
const mk = async (): Promise<Node> => await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [(process.env.WHOLE ? withWholeWrites(noise(process.env.FAST ? { crypto: noiseCrypto } : {})) : noise(process.env.FAST ? { crypto: noiseCrypto } : {})) as any], streamMuxers: [yamux()],
  services: { identify: identify(), links: linkManager({ isMember: () => true }), tunnels: tunnels({ isMember: () => true, authorize: () => {} }) } }) as unknown as Node
const [a, b] = [await mk(), await mk()]
let counted = 0
let done: () => void = () => {}
b.services.tunnels.handle('sink', (channel) => { void (async () => { for await (const chunk of channel) { counted += chunk.byteLength; if (counted >= TOTAL) done() } })() })
await a.dial(b.getMultiaddrs()[0]!)
let ch
for (let i = 0; i < 50 && ch == null; i++) ch = await a.services.tunnels.open(b.peerId.toString(), 'sink', Priority.BULK).catch(async () => { await new Promise(r => setTimeout(r, 200)) })
const start = performance.now(); const cpu0 = process.cpuUsage()
const finished = new Promise<void>(r => { done = r })
for (let sent = 0; sent < TOTAL; sent += BLOCK.byteLength) await ch!.write(BLOCK)
await finished
console.log('tunnel MiB/s', (TOTAL / 1048576) / ((performance.now() - start) / 1000), 'cpu ms/MiB', ((c => (c.user + c.system) / 1000)(process.cpuUsage(cpu0)) / (TOTAL / 1048576)).toFixed(2))
await a.stop(); await b.stop()
