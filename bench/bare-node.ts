/**
 * The baseline: a bare libp2p node with the same transports and discovery as a daemon (TCP,
 * Noise, Yamux, identify, ping, mDNS), dialling what it discovers (libp2p has no autodialer),
 * and nothing of ours. Prints `ready <peerId>`, then `connect <peerId>` per connection.
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { mdns } from '@libp2p/mdns'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  peerDiscovery: [mdns()],
  services: { identify: identify(), ping: ping() }
})
node.addEventListener('peer:discovery', (evt) => { void node.dial(evt.detail.id).catch(() => {}) })
node.addEventListener('peer:connect', (evt) => { process.stdout.write(`connect ${evt.detail.toString()}\n`) })
process.stdout.write(`ready ${node.peerId.toString()}\n`)
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
