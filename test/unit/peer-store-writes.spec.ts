import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import type { Key } from 'interface-datastore'
import type { PrivateKey } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { connectionStack } from '../../node/stack.ts'
import { SqliteDatastore } from '../../node/sqlite-datastore.ts'
import { tempDir } from '../../testbed/index.ts'

const PROTOCOL = '/companion-test/echo/1.0.0'

/** The daemon's datastore, counting what the peer store writes. */
class CountingDatastore extends SqliteDatastore {
  peerWrites = 0
  override put (key: Key, val: Uint8Array): Key {
    if (key.toString().startsWith('/peers/')) this.peerWrites++
    return super.put(key, val)
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
})
