import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import type { Stream } from '@libp2p/interface'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect as netConnect } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { connectionStack, dialTimeouts, lanTcp, YAMUX_PING_INTERVAL_MS } from '../../node/stack.ts'
import { HANDSHAKE_TIMEOUT_MS, TCP_CONNECT_TIMEOUT_MS } from '../../node/constants.ts'
import { TcpRelay } from '../../testbed/tcp-relay.ts'

const PROTOCOL = '/companion-test/sink/1.0.0'
/** Yamux's window update frame type, and its initial stream window (both fixed by its spec). */
const WINDOW_UPDATE = 1
const INITIAL_WINDOW = 256 * 1024

/** What the receiving side's yamux stream did: data frames in, window updates out. */
interface Counts { dataFrames: number, windowUpdates: number }

/** Count frames on the receiving yamux stream (the object libp2p hands the handler). */
function countFrames (stream: Stream, counts: Counts): void {
  const muxed = stream as unknown as { sendFrame: (header: { type: number }) => void, handleData: (frame: unknown) => void }
  const sendFrame = muxed.sendFrame
  muxed.sendFrame = (header) => { if (header.type === WINDOW_UPDATE) counts.windowUpdates++; sendFrame(header) }
  const handleData = muxed.handleData.bind(muxed)
  muxed.handleData = (frame) => { counts.dataFrames++; handleData(frame) }
}

describe('the connection stack (Noise and Yamux as the daemon runs them)', function () {
  let nodes: Libp2p[] = []

  afterEach(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    nodes = []
  })

  async function node (): Promise<Libp2p> {
    const n = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], ...connectionStack() })
    nodes.push(n)
    return n
  }

  it('carries 32 MiB byte-identical, with a window update per half window instead of one per frame', async () => {
    const [sender, receiver] = [await node(), await node()]
    const counts: Counts = { dataFrames: 0, windowUpdates: 0 }
    const total = 32 * 1024 * 1024
    const received = createHash('sha256')
    let bytes = 0
    const arrived = Promise.withResolvers<void>()
    await receiver.handle(PROTOCOL, (stream) => {
      countFrames(stream, counts)
      stream.addEventListener('message', (evt) => {
        received.update(evt.data.subarray())
        bytes += evt.data.byteLength
        if (bytes >= total) arrived.resolve()
      })
    })
    const stream = await (await sender.dial(receiver.getMultiaddrs()[0]!)).newStream(PROTOCOL)
    const sent = createHash('sha256')
    // small sends paced by drain, like the tunnel's writes: many data frames
    for (let at = 0; at < total; at += 16 * 1024) {
      const block = randomBytes(16 * 1024)
      sent.update(block)
      if (!stream.send(block)) await stream.onDrain()
    }
    await arrived.promise
    assert.equal(received.digest('hex'), sent.digest('hex'))
    assert.ok(counts.dataFrames > 200, `${counts.dataFrames} data frames`)
    // the window starts at 256 KiB and only grows: at most one update per 128 KiB received
    assert.ok(counts.windowUpdates <= total / (INITIAL_WINDOW / 2), `${counts.windowUpdates} window updates for ${counts.dataFrames} data frames`)
    assert.ok(counts.windowUpdates < counts.dataFrames / 4, `${counts.windowUpdates} window updates for ${counts.dataFrames} data frames`)
  })

  it('still opens, answers and closes streams (SYN and ACK updates go out at once)', async () => {
    const [a, b] = [await node(), await node()]
    await b.handle(PROTOCOL, (stream) => {
      stream.addEventListener('message', (evt) => { stream.send(evt.data) })
      stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
    })
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    for (let i = 0; i < 20; i++) {
      const stream = await conn.newStream(PROTOCOL)
      const echo = new Promise<Uint8Array>(resolve => { stream.addEventListener('message', (evt) => { resolve(Uint8Array.from(evt.data.subarray())) }, { once: true }) })
      stream.send(Uint8Array.of(i))
      assert.deepEqual(await echo, Uint8Array.of(i))
      await stream.close()
    }
  })
  it('pings once to size yamux\'s windows, then rarely: liveness is the link probes\' and the connection monitor\'s', async () => {
    const [a, b] = [await node(), await node()]
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    const muxer = (conn as unknown as { muxer: { keepAliveInterval: number, rtt: number } }).muxer
    assert.equal(muxer.keepAliveInterval, YAMUX_PING_INTERVAL_MS)
    assert.ok(YAMUX_PING_INTERVAL_MS >= 5 * 60_000)
    // the ping at the start measured the round trip the window auto-tuning needs
    const start = performance.now()
    while (muxer.rtt < 0 && performance.now() - start < 5_000) await new Promise(resolve => setTimeout(resolve, 10))
    assert.ok(muxer.rtt >= 0, 'a round trip measured')
  })
})

describe('dialling (the daemon\'s TCP and handshake times)', function () {
  this.timeout(30_000)
  let nodes: Libp2p[] = []
  const cleanups: Array<() => void> = []

  afterEach(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    for (const cleanup of cleanups.splice(0)) cleanup()
    nodes = []
  })

  async function node (): Promise<Libp2p> {
    const n = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [lanTcp()], ...connectionStack(), connectionManager: dialTimeouts() })
    nodes.push(n)
    return n
  }

  /** A port whose SYNs go unanswered: a listener that never accepts, its one-place queue filled. */
  async function silentPort (): Promise<number> {
    const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'])
    cleanups.push(() => { py.kill() })
    const port = Number(String(await once(py.stdout, 'data')).trim())
    const filler = netConnect(port, '127.0.0.1')
    cleanups.push(() => { filler.destroy() })
    await once(filler, 'connect')
    return port
  }

  it('gives up on an address where no one answers the connect within TCP_CONNECT_TIMEOUT_MS, not the whole dial', async () => {
    const [a, b] = [await node(), await node()]
    const dead = multiaddr(`/ip4/127.0.0.1/tcp/${await silentPort()}/p2p/${b.peerId.toString()}`)
    const started = Date.now()
    await assert.rejects(a.dial(dead, { signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS - 1_000) }))
    const tookMs = Date.now() - started
    assert.ok(tookMs >= TCP_CONNECT_TIMEOUT_MS - 100 && tookMs < TCP_CONNECT_TIMEOUT_MS + 2_000, `gave up after ${tookMs} ms`)
  })

  it('lets a handshake slower than 15 s (busy devices in a start storm) finish, instead of cutting it and starting over', async function () {
    this.timeout(HANDSHAKE_TIMEOUT_MS + 10_000)
    const [a, b] = [await node(), await node()]
    // each chunk held 4.5 s each way: the handshake crosses about four times (multistream and Noise's messages ride together)
    const { relay, address } = await TcpRelay.before(b, 4_500)
    cleanups.push(() => { relay.close() })
    const started = Date.now()
    // no signal of its own: libp2p's whole-dial time (10 s by default) applies too
    const conn = await a.dial(address)
    const tookMs = Date.now() - started
    assert.equal(conn.status, 'open')
    assert.ok(tookMs > 15_000, `the handshake took ${tookMs} ms: slower than the 15 s it once had, as meant`)
  })
})
