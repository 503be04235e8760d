import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { createDeviceNode, type DeviceNode } from '../../node/create-node.ts'
import { AccountStore } from '../../node/identity/account.ts'
import { PAIR_PROTOCOL } from '../../node/identity/constants.ts'
import { MAX_PAIR_FRAME_BYTES } from '../../node/identity/pairing-messages.ts'

/**
 * A stranger that runs our own node code (so it shows a profile, with any name it likes)
 * and may replace any protocol handler with its own: the attacker of the trust tests.
 */
export async function rogueNode (dataDir: string, name: string, options: { bootstrap?: string[] } = {}): Promise<DeviceNode> {
  await mkdir(dataDir, { recursive: true })
  const privateKey = await generateKeyPair('Ed25519')
  const account = await AccountStore.open(dataDir, privateKey)
  return await createDeviceNode({
    dataDir,
    privateKey,
    account,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    bootstrap: (options.bootstrap ?? []).map(a => multiaddr(a)),
    describe: () => ({ name, kind: 'phone', capabilities: [] }),
    authorizeChannel: () => {}
  })
}

/** A rogue's data directory inside a test's temporary folder. */
export const rogueDir = (root: string, name: string): string => join(root, `rogue-${name}`)

/** Serve the pairing protocol with `handler` instead of the product's. */
export async function replacePairing (node: DeviceNode, handler: (lp: LengthPrefixedStream, stream: Stream, connection: Connection) => Promise<void>): Promise<void> {
  await node.libp2p.unhandle(PAIR_PROTOCOL)
  await node.libp2p.handle(PAIR_PROTOCOL, async (stream, connection) => {
    await handler(lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES }), stream, connection).catch(() => { stream.abort(new Error('rogue done')) })
  })
}

/** One JSON pairing message, whatever it is. */
export async function readMessage (lp: LengthPrefixedStream): Promise<Record<string, unknown>> {
  return JSON.parse(new TextDecoder().decode((await lp.read({ signal: AbortSignal.timeout(70_000) })).subarray())) as Record<string, unknown>
}

export async function writeMessage (lp: LengthPrefixedStream, message: Record<string, unknown>): Promise<void> {
  await lp.write(new TextEncoder().encode(JSON.stringify(message)))
}

/** Open the pairing protocol to `peer` from `node`. */
export async function openPairing (node: DeviceNode, peer: PeerId): Promise<LengthPrefixedStream> {
  const stream = await node.libp2p.dialProtocol(peer, PAIR_PROTOCOL)
  return lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
}
