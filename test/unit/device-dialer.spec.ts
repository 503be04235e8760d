import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { peerRoutingSymbol, type PeerId, type PeerRouting } from '@libp2p/interface'
import { connectionStack } from '../../node/stack.ts'
import { deviceDialer, DUPLICATE_RECHECK_MS, type DeviceDialer, type DeviceDialerInit, type KnownDevices } from '../../node/device-dialer.ts'
import { until } from '../../testbed/index.ts'

const REDIAL_MIN = 100
const STABLE = 500

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('the device dialer', function () {
  this.timeout(20_000)
  let nodes: Libp2p[] = []

  afterEach(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    nodes = []
  })

  /** A device that refuses `refused()` peers the way the account refuses a removed device: after the handshake. */
  async function member (refused: (peer: PeerId) => boolean): Promise<Libp2p> {
    const n = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      ...connectionStack(),
      connectionGater: { denyInboundEncryptedConnection: refused }
    })
    nodes.push(n)
    return n
  }

  /** A device running our dialer that knows `other` (a member it has met), where `known` says. */
  async function knowing (other: Libp2p, known: Partial<KnownDevices> = {}, init: DeviceDialerInit = { redialMax: 10_000, stableConnection: STABLE }): Promise<Libp2p> {
    const n = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      ...connectionStack(),
      services: {
        dialer: deviceDialer({
          redialMin: REDIAL_MIN,
          ...init,
          known: {
            members: () => [other.peerId.toString()],
            isMember: (id) => id === other.peerId.toString(),
            addressesOf: () => other.getMultiaddrs().map(ma => ma.toString()),
            ...known
          }
        })
      }
    })
    nodes.push(n)
    return n
  }

  it('backs off from a device that cuts every connection at once, instead of redialling it twice a second', async () => {
    let attempts = 0
    let removed: PeerId | undefined
    const phone = await member(peer => { if (removed?.equals(peer) === true) { attempts++; return true } return false })
    const desk = await knowing(phone)
    removed = desk.peerId
    await desk.dial(phone.getMultiaddrs()[0]!).catch(() => {})
    await sleep(3_000)
    // 100, 200, 400, 800, 1600 ms apart: six attempts in three seconds (thirty without a backoff)
    assert.ok(attempts >= 3, `it keeps trying: ${attempts} attempts`)
    assert.ok(attempts <= 8, `${attempts} connections in 3 s`)
  })

  it('redials at once a device whose connection had lasted, even after earlier failures', async () => {
    let refusing = true
    const phone = await member(() => refusing)
    const laptop = await knowing(phone)
    await laptop.dial(phone.getMultiaddrs()[0]!).catch(() => {})
    // refused for a while: the backoff grows to seconds
    await sleep(1_600)
    refusing = false
    // connected on both sides: a connection the phone refused can look open to the laptop for a moment
    const connected = (): boolean => laptop.getConnections(phone.peerId).length > 0 && phone.getConnections(laptop.peerId).length > 0
    await until('connected again', 10_000, async () => connected(), 20)
    await sleep(STABLE + 100)
    assert.ok(connected(), 'the connection lasted')
    await phone.hangUp(laptop.peerId)
    const cut = Date.now()
    await until('redialled', 5_000, async () => laptop.getConnections(phone.peerId).length > 0, 20)
    const ms = Date.now() - cut
    assert.ok(ms < REDIAL_MIN * 4, `redialled after ${ms} ms`)
  })

  it('finds a member that moved through its DHT record once its old address failed twice', async () => {
    const phone = await member(() => false)
    let located = 0
    const moved = await knowing(phone, {
      // where it was: a port nobody listens on any more
      addressesOf: () => [`/ip4/127.0.0.1/tcp/1/p2p/${phone.peerId.toString()}`],
      locate: async () => { located++; return phone.getMultiaddrs().map(ma => ma.toString()) }
    }, {})
    await until('connected at its new address', 10_000, async () => moved.getConnections(phone.peerId).length > 0, 20)
    assert.equal(located, 1, 'looked up once, after two failed dials')
  })

  /** A device running our dialer for devices it discovers (no members); `lookup` answers its DHT lookups. */
  async function discovering (discoveryYield: number, lookup?: PeerRouting['findPeer']): Promise<Libp2p> {
    const n = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      ...connectionStack(),
      services: {
        dialer: deviceDialer({ discoveryYield }),
        ...(lookup == null ? {} : { dht: () => ({ [peerRoutingSymbol]: { findPeer: lookup } }) })
      }
    })
    nodes.push(n)
    return n
  }

  /** `node` hears of `other` as mDNS would tell it. */
  async function discover (node: Libp2p, other: Libp2p): Promise<void> {
    await node.peerStore.merge(other.peerId, { multiaddrs: other.getMultiaddrs() })
    node.safeDispatchEvent('peer:discovery', { detail: { id: other.peerId, multiaddrs: other.getMultiaddrs() } })
  }

  it('of two devices that discover each other at once, only the lower id dials', async () => {
    const [a, b] = await Promise.all([discovering(1_000), discovering(1_000)])
    const [low, high] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    await Promise.all([discover(a, b), discover(b, a)])
    await until('connected', 5_000, async () => low.getConnections(high.peerId).length > 0, 20)
    await sleep(1_500)
    assert.deepEqual(low.getConnections(high.peerId).map(c => c.direction), ['outbound'], 'one connection, made by the lower id')
  })

  it('dials a discovered device that reset its first connection again without waiting for a DHT lookup', async () => {
    let lookups = 0
    // the DHT among busy devices starting together: a lookup that takes its whole time
    const slowLookup: PeerRouting['findPeer'] = async (_id, options) => {
      lookups++
      await new Promise((_resolve, reject) => { options?.signal?.addEventListener('abort', () => { reject(new Error('lookup aborted')) }) })
      throw new Error('unreachable')
    }
    let resets = 0
    // a device busy starting: it cuts the first connection before the handshake
    const busy = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      ...connectionStack(),
      connectionGater: { denyInboundConnection: () => resets++ === 0 }
    })
    nodes.push(busy)
    const dialer = await discovering(0, slowLookup)
    const start = Date.now()
    await discover(dialer, busy)
    await until('connected', 10_000, async () => dialer.getConnections(busy.peerId).length > 0, 20)
    const ms = Date.now() - start
    assert.equal(resets, 2, 'refused once, then taken')
    assert.equal(lookups, 1, 'it did look the device up')
    // the retry comes 2 s after the failure; the lookup would have held it for the dial's 15 s
    assert.ok(ms < 4_000, `connected after ${ms} ms`)
  })

  it('dials a device met before again when it is sighted again, which libp2p does not pass on', async () => {
    const [a, b] = await Promise.all([discovering(0), discovering(0)])
    const [low, high] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    await discover(low, high)
    await until('connected', 5_000, async () => low.getConnections(high.peerId).length > 0, 20)
    await low.hangUp(high.peerId)
    // what libp2p does with an mDNS answer about a peer it knows: a peer store merge, no peer:discovery
    let told = 0
    low.addEventListener('peer:discovery', () => { told++ })
    await low.peerStore.merge(high.peerId, { multiaddrs: high.getMultiaddrs() })
    await sleep(500)
    assert.equal(told, 0, 'libp2p tells of a peer only while it is new to the peer store')
    assert.equal(low.getConnections(high.peerId).length, 0, 'no one dialled')
    ;(low.services.dialer as DeviceDialer).sighted({ id: high.peerId, multiaddrs: high.getMultiaddrs() })
    await until('connected again', 5_000, async () => low.getConnections(high.peerId).length > 0, 20)
  })

  it('of two connections made when both dial at once, keeps only the one the lower id dialled', async () => {
    const [a, b] = await Promise.all([discovering(0), discovering(0)])
    const [low, high] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    // the higher id's yield ran out while the lower id's handshake was under way: both dial
    await Promise.all([low.dial(high.getMultiaddrs()[0]!, { force: true }), high.dial(low.getMultiaddrs()[0]!, { force: true })].map(async p => await p.catch(() => undefined)))
    // each side lists its own dial first, the other's once its handshake ends
    const directions = (node: Libp2p, other: Libp2p): string[] => node.getConnections(other.peerId).map(c => c.direction)
    await until('only the lower id\'s connection left', 5_000, async () =>
      directions(low, high).join() === 'outbound' && directions(high, low).join() === 'inbound', 20)
    await sleep(1_000)
    assert.deepEqual([directions(low, high), directions(high, low)], [['outbound'], ['inbound']], 'and it stays')
  })

  it('of two connections, leaves the one it would close open while a stream on it is under way, and closes it after', async () => {
    const [a, b] = await Promise.all([discovering(0), discovering(0)])
    const [low, high] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    const ECHO = '/test/echo/1'
    await low.handle(ECHO, (stream) => {
      stream.addEventListener('message', (evt) => { stream.send(evt.data) })
      stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
    })
    // a pairing started on the connection the higher id dialled, just before the lower id's opened
    const first = await high.dial(low.getMultiaddrs()[0]!)
    const stream = await first.newStream(ECHO)
    const echo = async (byte: number): Promise<Uint8Array> => await new Promise(resolve => {
      stream.addEventListener('message', (evt) => { resolve(Uint8Array.from(evt.data.subarray())) }, { once: true })
      stream.send(Uint8Array.of(byte))
    })
    await low.dial(high.getMultiaddrs()[0]!, { force: true })
    await sleep(DUPLICATE_RECHECK_MS + 500)
    assert.equal(first.status, 'open', 'the connection with a stream under way is left open')
    assert.deepEqual(await echo(7), Uint8Array.of(7), 'and the stream still carries data')
    await stream.close()
    await until('closed once its stream ended', DUPLICATE_RECHECK_MS * 3, async () => first.status !== 'open', 20)
    assert.deepEqual(low.getConnections(high.peerId).map(c => c.direction), ['outbound'], 'the lower id\'s connection kept')
  })

  it('a device with the higher id still dials one that did not dial it', async () => {
    const [a, b] = await Promise.all([discovering(300), discovering(300)])
    const [low, high] = a.peerId.toString() < b.peerId.toString() ? [a, b] : [b, a]
    await discover(high, low)
    await until('connected', 5_000, async () => high.getConnections(low.peerId).length > 0, 20)
    assert.equal(high.getConnections(low.peerId)[0]?.direction, 'outbound')
  })
})
