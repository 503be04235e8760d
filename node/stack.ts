import { noise } from '@chainsafe/libp2p-noise'
import type { Libp2pOptions } from 'libp2p'
import { noiseCrypto } from './noise-crypto.ts'
import { withWholeWrites } from './whole-writes.ts'
import { yamuxHalfWindowUpdates } from './yamux-window.ts'

/**
 * What every connection of the daemon runs on, above TCP or a relay: Noise (with the crypto
 * and write fixes measured in bench/) and Yamux. The throughput benchmark measures this stack.
 */
export function connectionStack (): Pick<Libp2pOptions, 'connectionEncrypters' | 'streamMuxers'> {
  return {
    connectionEncrypters: [withWholeWrites(noise({ crypto: noiseCrypto }))],
    streamMuxers: [yamuxHalfWindowUpdates()]
  }
}
