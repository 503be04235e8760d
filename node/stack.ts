import { noise } from '@chainsafe/libp2p-noise'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'
import { DIAL_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, TCP_CONNECT_TIMEOUT_MS } from './constants.ts'
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

/**
 * TCP whose connect gives up after TCP_CONNECT_TIMEOUT_MS (Node's socket `timeout`, which
 * @libp2p/tcp turns into a failed dial), so that a dead address does not use up the longer
 * per-address time that handshakes get (dialTimeouts).
 */
export function lanTcp (): ReturnType<typeof tcp> {
  return tcp({ dialOpts: { timeout: TCP_CONNECT_TIMEOUT_MS } as TCPSocketOptions })
}

/**
 * libp2p's per-address dial and inbound handshake times, for busy devices (HANDSHAKE_TIMEOUT_MS),
 * and the whole time of a dial that brings no signal of its own (the DHT's, a relay's).
 */
export function dialTimeouts (): { dialTimeout: number, addressDialTimeout: number, inboundUpgradeTimeout: number } {
  return { dialTimeout: DIAL_TIMEOUT_MS, addressDialTimeout: HANDSHAKE_TIMEOUT_MS, inboundUpgradeTimeout: HANDSHAKE_TIMEOUT_MS }
}
