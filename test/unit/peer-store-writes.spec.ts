import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import type { Key } from 'interface-datastore'
import type { PrivateKey } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { connectionStack } from '../../node/stack.ts'
import { SqliteDatastore } from '../../node/sqlite-datastore.ts'
import { tempDir } from '../../testbed/index.ts'

const PROTOCOL = '/companion-test/echo/1.0.0'

/** The daemon's datastore, counting what the peer store writes and reads. */
class CountingDatastore extends SqliteDatastore {
  peerWrites = 0
  peerReads = 0
  override put (key: Key, val: Uint8Array): Key {
    if (key.toString().startsWith('/peers/')) this.peerWrites++
    return super.put(key, val)
  }

  override get (key: Key): Uint8Array {
    if (key.toString().startsWith('/peers/')) this.peerReads++
    return super.get(key)
  }
}

describe('the peer store on the daemon\'s SQLite file (patched @libp2p/peer-store)', function () {
  this.timeout(20_000)
  const tmp = tempDir()
  let nodes: Libp2p[] = []
  let stores: SqliteDatastore[] = []

  afterEach(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    for (const store of stores) store.close()
    nodes = []
    stores = []
  })
  after(() => { tmp.cleanup() })

  async function node (datastore?: SqliteDatastore, privateKey?: PrivateKey): Promise<Libp2p> {
    if (datastore != null) stores.push(datastore)
    const n = await createLibp2p({ privateKey, addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], ...connectionStack(), datastore, connectionMonitor: { enabled: false } })
    await n.handle(PROTOCOL, (stream) => { stream.close().catch(() => {}) })
    nodes.push(n)
    return n
  }

  it('writes a peer once per change, not once per stream opened to it', async () => {
    const path = join(tmp.path, 'streams.db')
    const datastore = new CountingDatastore(path)
    const key = await generateKeyPair('Ed25519')
    const [a, b] = [await node(datastore, key), await node()]
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    // identify and the first stream change the record; let them land
    await (await conn.newStream(PROTOCOL)).close()
    await new Promise(resolve => setTimeout(resolve, 500))
    const before = datastore.peerWrites
    for (let i = 0; i < 50; i++) await (await conn.newStream(PROTOCOL)).close()
    assert.ok(datastore.peerWrites - before <= 2, `${datastore.peerWrites - before} writes for 50 streams of a known protocol`)
    // a change is still written, and read back from the file after a restart
    await a.peerStore.merge(b.peerId, { protocols: ['/companion-test/new/1.0.0'] })
    const written = datastore.peerWrites
    assert.ok(written > before, 'a changed peer is written')
    await a.stop()
    const restarted = await node(new SqliteDatastore(path), key)
    assert.ok((await restarted.peerStore.get(b.peerId)).protocols.includes('/companion-test/new/1.0.0'))
  })

  it('reads a known peer from memory, not from the file each time, and never a stale copy', async () => {
    const datastore = new CountingDatastore(join(tmp.path, 'reads.db'))
    const a = await node(datastore)
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await a.peerStore.merge(other, { multiaddrs: [multiaddr('/ip4/198.18.1.7/tcp/4001')], metadata: { note: Uint8Array.of(1) } })
    const before = datastore.peerReads
    for (let i = 0; i < 100; i++) assert.equal((await a.peerStore.get(other)).addresses.length, 1)
    assert.ok(datastore.peerReads - before <= 1, `${datastore.peerReads - before} reads of the file for 100 of one peer`)
    // what a merge, a patch and a delete change is what the next read sees
    await a.peerStore.merge(other, { multiaddrs: [multiaddr('/ip4/198.18.2.7/tcp/4001')] })
    assert.equal((await a.peerStore.get(other)).addresses.length, 2)
    await a.peerStore.patch(other, { multiaddrs: [multiaddr('/ip4/198.18.3.7/tcp/4001')] })
    assert.deepEqual((await a.peerStore.get(other)).addresses.map(x => x.multiaddr.toString()), ['/ip4/198.18.3.7/tcp/4001'])
    // a caller changing what it was given changes nothing held
    const given = await a.peerStore.get(other)
    given.metadata.set('note', Uint8Array.of(9))
    given.protocols.push('/changed/1.0.0')
    const again = await a.peerStore.get(other)
    assert.deepEqual(again.metadata.get('note'), Uint8Array.of(1))
    assert.equal(again.protocols.length, 0)
    // a metadata key removed by a merge is removed in the file too (the merge once changed the
    // record it compared against, so the change looked like none and was not written)
    await a.peerStore.merge(other, { metadata: { note: undefined } })
    assert.equal((await a.peerStore.get(other)).metadata.has('note'), false)
    await a.peerStore.delete(other)
    await assert.rejects(a.peerStore.get(other), { name: 'NotFoundError' })
  })

  it('holds at most PEER_CACHE_SIZE peers in memory, the least recently read going first', async () => {
    const datastore = new CountingDatastore(join(tmp.path, 'many.db'))
    const a = await node(datastore)
    const peers = await Promise.all(Array.from({ length: 300 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    for (const [i, p] of peers.entries()) await a.peerStore.merge(p, { multiaddrs: [multiaddr(`/ip4/198.18.1.${i % 250 + 1}/tcp/${4000 + i}`)] })
    // the first 44 were pushed out by the 256 after them: read from the file again
    const before = datastore.peerReads
    await a.peerStore.get(peers[0]!)
    assert.equal(datastore.peerReads - before, 1)
    const held = datastore.peerReads
    await a.peerStore.get(peers[299]!)
    assert.equal(datastore.peerReads - held, 0)
  })
})
