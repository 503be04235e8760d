import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { noiseCrypto } from '../node/noise-crypto.ts'
import { withWholeWrites } from '../node/whole-writes.ts'
import { yamux } from '@chainsafe/libp2p-yamux'
const TOTAL = 256 * 1024 * 1024
const BLOCK = new Uint8Array(64 * 1024).fill(7)
const mk = async () => await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [(process.env.WHOLE ? withWholeWrites(noise(process.env.FAST ? { crypto: noiseCrypto } : {})) : noise(process.env.FAST ? { crypto: noiseCrypto } : {})) as any], streamMuxers: [yamux()] })
const [a, b] = [await mk(), await mk()]
let counted = 0
let done: () => void = () => {}
await b.handle('/sink', (stream) => { stream.addEventListener('message', (evt) => { counted += evt.data.byteLength; if (counted >= TOTAL) done() }) })
const conn = await a.dial(b.getMultiaddrs()[0]!)
const stream = await conn.newStream('/sink')
const start = performance.now(); const cpu0 = process.cpuUsage()
const finished = new Promise<void>(r => { done = r })
for (let sent = 0; sent < TOTAL; sent += BLOCK.byteLength) if (!stream.send(BLOCK)) await stream.onDrain()
await finished
console.log('raw MiB/s', (TOTAL / 1048576) / ((performance.now() - start) / 1000), 'cpu ms/MiB', ((c => (c.user + c.system) / 1000)(process.cpuUsage(cpu0)) / (TOTAL / 1048576)).toFixed(2))
await a.stop(); await b.stop()
