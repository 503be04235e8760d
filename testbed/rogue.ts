import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { createDeviceNode, type DeviceNode } from '../node/create-node.ts'
import { openDeviceBook } from '../node/identity/profile-book.ts'
import { AccountStore } from '../node/identity/account.ts'
import { accountIdOf, sealCertificate } from '../node/identity/records.ts'
import { EpochChain } from '../node/identity/epochs.ts'
import { PAIR_PROTOCOL } from '../node/identity/constants.ts'
import { MAX_PAIR_FRAME_BYTES } from '../node/identity/pairing-messages.ts'

/**
 * A stranger that runs our own node code (so it shows a profile, with any name it likes)
 * and may replace any protocol handler with its own: the attacker of the trust tests.
 */
export interface RogueOptions {
  bootstrap?: string[]
  /** Its device key (a test may need an id above or below another's). */
  privateKey?: PrivateKey
  /**
   * A member gone bad: it joins the account of the daemon whose data directory this is,
   * certifying itself with the account key found there, as a stolen device would.
   */
  memberOf?: string
}

export async function rogueNode (dataDir: string, name: string, options: RogueOptions = {}): Promise<DeviceNode> {
  await mkdir(dataDir, { recursive: true })
  const privateKey = options.privateKey ?? await generateKeyPair('Ed25519')
  const account = await AccountStore.open(dataDir, privateKey)
  if (options.memberOf != null) {
    const file = JSON.parse(await readFile(join(options.memberOf, 'account.json'), 'utf8')) as { key: string, account?: string, chain?: string }
    const accountKey = privateKeyFromProtobuf(Buffer.from(file.key, 'base64'))
    const chain = file.chain == null ? EpochChain.empty(accountIdOf(accountKey.publicKey)) : await EpochChain.decode(Buffer.from(file.chain, 'base64'))
    const device = peerIdFromPrivateKey(privateKey).toString()
    const certificate = await sealCertificate({ v: 1, account: chain.account, device, issuer: device, issuedAt: Date.now(), epoch: chain.epoch }, accountKey)
    await account.adopt({ accountKey: privateKeyToProtobuf(accountKey), certificate, chain: chain.encode() })
  }
  const book = openDeviceBook(dataDir, account)
  const node = await createDeviceNode({
    dataDir,
    privateKey,
    account,
    book,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    bootstrap: (options.bootstrap ?? []).map(a => multiaddr(a)),
    describe: () => ({ name, kind: 'phone', capabilities: [] }),
    authorizeChannel: () => {}
  })
  // the book is its maker's to close, after the node
  return { ...node, stop: async () => { await node.stop(); book.close() } }
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

/** A device key whose id sorts above (or below) `other`'s: who opens the tunnel depends on it. */
export async function keyAgainst (other: string, above: boolean): Promise<PrivateKey> {
  for (;;) {
    const key = await generateKeyPair('Ed25519')
    if ((peerIdFromPrivateKey(key).toString() > other) === above) return key
  }
}

/** Open the pairing protocol to `peer` from `node`. */
export async function openPairing (node: DeviceNode, peer: PeerId): Promise<LengthPrefixedStream> {
  const stream = await node.libp2p.dialProtocol(peer, PAIR_PROTOCOL)
  return lpStream(stream, { maxDataLength: MAX_PAIR_FRAME_BYTES })
}
