import { noise } from '@chainsafe/libp2p-noise'
import type { Libp2pOptions } from 'libp2p'
import { noiseCrypto } from './noise-crypto.ts'
import { withWholeWrites } from './whole-writes.ts'
import { yamuxHalfWindowUpdates } from './yamux-window.ts'

/**
 * What every connection of the daemon runs on, above TCP or a relay: Noise (with the crypto
 * and write fixes measured in bench/) and Yamux. The throughput benchmark measures this stack.
 * Yamux pings each connection once at its start and then every YAMUX_PING_INTERVAL_MS instead
 * of every 30 s: the round trip it measures sizes its receive windows (with none, they never
 * grow: twice the window updates on a bulk transfer), but a failed ping is only logged, so the
 * pings did nothing for liveness: links to members are probed (PROTOCOL §5.2) and every other
 * connection is pinged by libp2p's connection monitor each minute, which closes it when no
 * answer comes. Twenty daemons' keep-alives were part of the once-a-minute CPU burst.
 */
export const YAMUX_PING_INTERVAL_MS = 10 * 60_000

export function connectionStack (): Pick<Libp2pOptions, 'connectionEncrypters' | 'streamMuxers'> {
  return {
    connectionEncrypters: [withWholeWrites(noise({ crypto: noiseCrypto }))],
    streamMuxers: [yamuxHalfWindowUpdates({ keepAliveInterval: YAMUX_PING_INTERVAL_MS })]
  }
}
