import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { Libp2pRecord } from '@libp2p/record'
import { lpStream } from '@libp2p/utils'
import * as varint from 'uint8-varint'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { connectionStack } from '../../node/stack.ts'
import { DHT_PROTOCOL } from '../../node/constants.ts'
import { MAX_FOREIGN_DHT_RECORDS } from '../../node/dht-quota.ts'
import { accountSecrets, sealDhtProfile } from '../../node/identity/dht-profile.ts'
import type { DeviceNode } from '../../node/create-node.ts'
import { FrameType, MAX_CHANNELS, MAX_CONTROL_BACKLOG, PROBE_PROTOCOL, TUNNEL_PROTOCOL } from '../../link/constants.ts'
import { decodeFrame, encodeFrame, type Frame } from '../../link/frames.ts'
import { Device, tempDir, type DeviceRow, until } from '../../testbed/index.ts'
import { keyAgainst, rogueDir, rogueNode, type RogueOptions } from '../../testbed/rogue.ts'
import { storedDhtRecord } from '../../testbed/dht.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

function dhtRecordsOn (device: Device): number {
  const db = new DatabaseSync(join(device.dataDir, 'node.db'), { readOnly: true })
  try {
    return Number((db.prepare("SELECT COUNT(*) AS n FROM kv WHERE key LIKE '/dht/record/%'").get() as { n: number }).n)
  } finally {
    db.close()
  }
}

/**
 * One kad-dht PUT_VALUE, by hand (field 1 type = 0, 2 key, 3 record), on a stream of its own:
 * true if the victim echoed it (stored), false if it refused.
 */
async function kadPut (conn: Connection, key: Uint8Array, value: Uint8Array): Promise<boolean> {
  const record = new Libp2pRecord(key, value, new Date()).serialize()
  const field = (tag: number, bytes: Uint8Array): Uint8Array[] => [Uint8Array.of(tag), varint.encode(bytes.byteLength), bytes]
  const message = Buffer.concat([Uint8Array.of(0x08, 0x00), ...field(0x12, key), ...field(0x1a, record)])
  const stream = await conn.newStream(DHT_PROTOCOL)
  const lp = lpStream(stream)
  try {
    await lp.write(message, { signal: AbortSignal.timeout(5_000) })
    await lp.read({ signal: AbortSignal.timeout(5_000) })
    return true
  } catch {
    return false
  } finally {
    stream.abort(new Error('done'))
  }
}

/** A circuit relay v2 RESERVE by hand (HopMessage type 0), and the status the relay answers. */
async function reserve (conn: Connection | undefined): Promise<string> {
  assert.ok(conn != null, 'connected')
  const stream = await conn.newStream(HOP_PROTOCOL)
  const lp = lpStream(stream)
  try {
    await lp.write(Uint8Array.of(0x08, 0x00), { signal: AbortSignal.timeout(5_000) })
    const answer = (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray()
    // walk the fields to field 5 (status, a varint); others are varints or length-delimited
    let status = -1
    for (let at = 0; at < answer.byteLength;) {
      const tag = varint.decode(answer, at)
      at += varint.encodingLength(tag)
      const value = varint.decode(answer, at)
      at += varint.encodingLength(value)
      if ((tag & 7) === 2) at += value
      else if (tag >> 3 === 5) status = value
    }
    return ({ 100: 'OK', 200: 'RESERVATION_REFUSED', 202: 'PERMISSION_DENIED' } as Record<number, string>)[status] ?? `status ${status}`
  } finally {
    stream.abort(new Error('done'))
  }
}

const HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop'

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

/** Frames arriving on a tunnel stream, as the other side sent them. */
async function * tunnelFrames (stream: Stream): AsyncGenerator<Frame> {
  const buffer = new Uint8ArrayList()
  for await (const chunk of stream) {
    buffer.append(chunk)
    while (buffer.byteLength >= 4 && buffer.byteLength >= 4 + buffer.getUint32(0)) {
      const length = buffer.getUint32(0)
      const body = buffer.subarray(4, 4 + length)
      buffer.consume(4 + length)
      yield decodeFrame(body)
    }
  }
}

describe('strangers and members gone bad cannot wear a device down', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  let victim: Device
  let address: string
  let nodes: Libp2p[] = []
  let rogues: DeviceNode[] = []

  beforeEach(async () => {
    victim = new Device({ dataDir: join(tmp.path, `victim-${Date.now()}`), name: 'victim', args: LOOPBACK })
    await victim.start()
    address = (await victim.json<{ addresses: string[] }>('status')).addresses[0] ?? ''
  })

  afterEach(async () => {
    await Promise.all([...nodes.map(async n => { await n.stop() }), ...rogues.map(async r => { await r.stop() })])
    nodes = []
    rogues = []
    await victim.stop()
  })
  after(() => { tmp.cleanup() })

  /** A bare libp2p peer: no profile, no account, any bytes. */
  async function stranger (services: Record<string, unknown> = {}): Promise<Libp2p> {
    const n = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], ...connectionStack(), services: { identify: identify(), ...services } })
    nodes.push(n)
    return n
  }

  async function rogue (name: string, options: RogueOptions = {}): Promise<DeviceNode> {
    const r = await rogueNode(rogueDir(tmp.path, `${name}-${Date.now()}`), name, { bootstrap: [address], ...options })
    rogues.push(r)
    return r
  }

  async function listedAsMember (r: DeviceNode): Promise<void> {
    await until('the rogue member is listed as a member', 10_000, async () =>
      (await victim.json<DeviceRow[]>('devices')).find(d => d.id === r.libp2p.peerId.toString())?.relation === 'member')
  }

  it('answers no probes for a stranger, and stays small under a member\'s flood of pings it never reads answers to', async () => {
    const peer = await stranger()
    const stream = await (await peer.dial(multiaddr(address))).newStream(PROBE_PROTOCOL)
    const ping = new Uint8Array(12)
    ping[0] = 1
    for (let i = 0; i < 1_000; i++) stream.send(ping)
    await until('the stranger\'s probe stream is cut', 10_000, async () => stream.status !== 'open')

    const member = await rogue('flooder', { memberOf: victim.dataDir })
    await listedAsMember(member)
    const before = rssMiB(victim.pid ?? 0)
    const conn = member.libp2p.getConnections(peerIdFromString(victim.id))[0]
    assert.ok(conn != null)
    const flood = await conn.newStream(PROBE_PROTOCOL)
    // pings as fast as the stream takes them, never reading a pong
    flood.pause()
    const deadline = AbortSignal.timeout(5_000)
    for (let sent = 0; sent < 200_000 && !deadline.aborted && flood.status === 'open'; sent++) {
      if (!flood.send(ping)) await flood.onDrain({ signal: deadline }).catch(() => {})
    }
    const grown = rssMiB(victim.pid ?? 0) - before
    assert.ok(grown < 64, `the victim grew ${grown.toFixed(1)} MiB`)
    assert.equal((await victim.json<{ id: string }>('status')).id, victim.id, 'and keeps serving')
  })

  it('stores only DHT keys of its own shape, with a total quota for other accounts, and still the account\'s own', async () => {
    const peer = await stranger()
    const conn = await peer.dial(multiaddr(address))
    const start = dhtRecordsOn(victim)
    // a key of another shape, and kad's own record types
    assert.equal(await kadPut(conn, new TextEncoder().encode('/companion/' + 'a'.repeat(4_000)), randomBytes(100)), false)
    assert.equal(await kadPut(conn, new TextEncoder().encode(`/pk/${'b'.repeat(40)}`), randomBytes(100)), false)
    assert.equal(dhtRecordsOn(victim), start, 'nothing of another shape is stored')
    // records of the right shape, each of "another account", more than the quota
    const signer = await generateKeyPair('Ed25519')
    const device = peerIdFromPrivateKey(signer).toString()
    let taken = 0
    for (let i = 0; i < MAX_FOREIGN_DHT_RECORDS + 50; i++) {
      const { key, value } = await sealDhtProfile(accountSecrets(await generateKeyPair('Ed25519')), signer, device, i, randomBytes(64), randomBytes(64))
      if (await kadPut(conn, key, value)) taken++
    }
    const held = dhtRecordsOn(victim)
    assert.ok(held <= MAX_FOREIGN_DHT_RECORDS, `${held} records held`)
    assert.ok(taken >= MAX_FOREIGN_DHT_RECORDS - start - 10 && taken < MAX_FOREIGN_DHT_RECORDS + 50, `the quota is what stopped them (${taken} taken)`)
    // a member's own record still finds room
    const member = await rogue('member', { memberOf: victim.dataDir })
    await storedDhtRecord(victim, { id: member.libp2p.peerId.toString() }, accountSecrets(member.account.key))
    assert.ok(dhtRecordsOn(victim) > held)
  })

  it('gives relay slots to members only: never to another account, nor to a device that has not shown a profile', async () => {
    const other = await rogue('other-account')
    const member = await rogue('member', { memberOf: victim.dataDir })
    await until('both are listed', 10_000, async () => {
      const rows = await victim.json<DeviceRow[]>('devices')
      return rows.some(r => r.id === other.libp2p.peerId.toString()) && rows.some(r => r.relation === 'member')
    })
    const victimId = peerIdFromString(victim.id)
    assert.equal(await reserve(other.libp2p.getConnections(victimId)[0]), 'PERMISSION_DENIED')
    assert.equal(await reserve(member.libp2p.getConnections(victimId)[0]), 'OK')
    // a device with no profile at all is a stranger too
    const unknown = await stranger()
    assert.equal(await reserve(await unknown.dial(multiaddr(address))), 'PERMISSION_DENIED')
  })

  /** A member with an id above the victim's (so the victim opens the tunnel), serving the tunnel with `serve`. */
  async function tunnelRogue (serve: (stream: Stream, frames: AsyncGenerator<Frame>) => Promise<void>): Promise<DeviceNode> {
    const member = await rogue('tunneller', { memberOf: victim.dataDir, privateKey: await keyAgainst(victim.id, true) })
    await member.libp2p.unhandle(TUNNEL_PROTOCOL)
    await member.libp2p.handle(TUNNEL_PROTOCOL, async (stream) => {
      const frames = tunnelFrames(stream)
      const first = await frames.next()
      if (first.value?.type !== FrameType.RESUME) throw new Error('expected RESUME')
      stream.send(encodeFrame({ type: FrameType.RESUME_OK, received: 0, fresh: true }))
      await serve(stream, frames)
    })
    return member
  }

  it('cuts the tunnel stream of a member that floods opens while it neither reads nor acknowledges', async () => {
    const cut = Promise.withResolvers<number>()
    const member = await tunnelRogue(async (stream) => {
      // every refused open makes the victim keep an answer until it is acknowledged
      let sent = 0
      for (; sent < MAX_CONTROL_BACKLOG * 4 && stream.status === 'open'; sent++) {
        if (!stream.send(encodeFrame({ type: FrameType.OPEN, seq: sent + 1, channel: 2 * sent + 2, priority: 1, name: 'no-such-service' }))) await stream.onDrain().catch(() => {})
        if (sent % 256 === 0) await new Promise(resolve => setTimeout(resolve, 5))
      }
      await until('the victim cuts the stream', 10_000, async () => stream.status !== 'open').catch(() => {})
      cut.resolve(stream.status === 'open' ? Infinity : sent)
    })
    const before = rssMiB(victim.pid ?? 0)
    await listedAsMember(member)
    // it may have sent them all before the victim got to the 1024th: what counts is that it is cut
    const sent = await cut.promise
    assert.ok(Number.isFinite(sent), 'the victim cut the stream')
    assert.ok(rssMiB(victim.pid ?? 0) - before < 64)
    assert.equal((await victim.json<{ id: string }>('status')).id, victim.id, 'and keeps serving')
  })

  it('takes at most MAX_CHANNELS channels from a member, so its buffers stay bounded', async () => {
    const asked = MAX_CHANNELS + 20
    const done = Promise.withResolvers<{ ok: number, failed: string[] }>()
    const member = await tunnelRogue(async (stream, frames) => {
      for (let i = 0; i < asked; i++) stream.send(encodeFrame({ type: FrameType.OPEN, seq: i + 1, channel: 2 * i + 2, priority: 1, name: 'echo' }))
      let ok = 0
      const failed: string[] = []
      let received = 0
      for await (const frame of frames) {
        if ('seq' in frame) received = frame.seq
        stream.send(encodeFrame({ type: FrameType.ACK, received }))
        if (frame.type === FrameType.OPEN_OK) ok++
        if (frame.type === FrameType.OPEN_FAIL) failed.push(frame.reason)
        if (ok + failed.length === asked) break
      }
      done.resolve({ ok, failed })
    })
    await listedAsMember(member)
    const { ok, failed } = await done.promise
    assert.ok(ok <= MAX_CHANNELS && ok >= MAX_CHANNELS - 4, `${ok} channels taken`)
    assert.ok(failed.length >= 20 && failed.every(r => /at most 128 channels/.test(r)), failed[0])
  })
})
