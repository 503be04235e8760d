import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ANSWER_MAX_ADDRS, answerPacket, asksFor, queryPacket, readAnswer } from '../../node/mdns/packets.ts'
import { ipOf } from '../../link/index.ts'
import { isLinkLocalV6 } from '../../node/address-policy.ts'
import { pick } from '../../testbed/sms-events.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'
import { mutateBytes } from './mutate.ts'

const TAG = '_companion._udp.local'

/**
 * mDNS packets as anyone on the LAN can send them: read as the daemon reads them. Nothing may
 * throw; what is taken is one device's plain TCP addresses, at most ANSWER_MAX_ADDRS, and a
 * link-local one only with the interface it was heard on as its zone.
 */
export const mdnsPackets: FuzzTarget = {
  name: 'mdns',
  async run (random, inputs) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const ids = await Promise.all([1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const addrs = ['/ip4/198.18.1.2/tcp/4001', '/ip6/fe80::9/tcp/4001', '/ip6/fd18:1::2/tcp/4001', '/ip6zone/eth9/ip6/fe80::1/tcp/1', '/ip4/169.254.1.1/tcp/9'].map(a => multiaddr(a))
    const corpus = [
      queryPacket(TAG),
      ...ids.map(id => answerPacket(TAG, `n${id.toString().slice(-4)}`, id, addrs)),
      answerPacket(TAG, 'x', ids[0]!, addrs.slice(0, 1))
    ]
    for (let i = 0; i < inputs; i++) {
      const r = random()
      const bytes = r < 0.05 ? Uint8Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)) : r < 0.2 ? pick(random, corpus) : mutateBytes(random, pick(random, corpus), pick(random, corpus))
      const receivedOn = random() < 0.5 ? 'eth0' : undefined
      let heard: ReturnType<typeof readAnswer>
      try {
        asksFor(bytes, TAG)
        heard = readAnswer(bytes, TAG, 'us', receivedOn)
      } catch (err) {
        throw new FuzzFinding(`input ${i}: reading an mDNS packet threw ${(err as Error).name}: ${(err as Error).message}`)
      }
      if (heard == null) {
        stats.refused++
        continue
      }
      if (heard.multiaddrs.length === 0 || heard.multiaddrs.length > ANSWER_MAX_ADDRS) throw new FuzzFinding(`input ${i}: ${heard.multiaddrs.length} addresses taken`)
      for (const ma of heard.multiaddrs) {
        const addr = ipOf(ma)
        const rest = ma.getComponents().slice(addr?.zone == null ? 1 : 2)
        if (addr == null || rest.length !== 1 || rest[0]?.name !== 'tcp') throw new FuzzFinding(`input ${i}: took ${ma.toString()}, not a plain TCP address`)
        const linkLocal = addr.family === 6 && isLinkLocalV6(addr.ip)
        if (linkLocal ? addr.zone !== receivedOn || receivedOn == null : addr.zone != null) throw new FuzzFinding(`input ${i}: took ${ma.toString()} heard on ${receivedOn ?? 'IPv4'}`)
      }
      stats.accepted++
    }
    return stats
  }
}

export const NETWORK_TARGETS: FuzzTarget[] = [mdnsPackets]
