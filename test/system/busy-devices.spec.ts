import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import type { DeviceNode } from '../../node/create-node.ts'
import { PROFILE_PROTOCOL, PROFILE_RETRY_DELAYS_MS } from '../../node/identity/constants.ts'
import { Device, tempDir, type DeviceRow, until } from '../../testbed/index.ts'
import { rogueDir, rogueNode } from '../../testbed/rogue.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/**
 * Faults of a busy start (twenty daemons on two cores): exchanges that time out once must
 * not leave a device connected but unknown for good.
 */
describe('devices too busy to answer at first', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let daemon: Device | undefined
  let other: DeviceNode | undefined

  afterEach(async () => {
    await other?.stop()
    await daemon?.stop()
    other = undefined
    daemon = undefined
  })
  after(() => { tmp.cleanup() })

  /** A device (in this process) whose profile answers go through `answer`, and a daemon that dials it. */
  async function daemonDialling (name: string, answer: (handle: StreamHandler, stream: Stream, connection: Connection) => Promise<void>, maxInboundStreams = 4): Promise<{ device: DeviceNode, daemon: Device }> {
    const device = await rogueNode(rogueDir(tmp.path, `${name}-${Date.now()}`), name)
    other = device
    const service = device.libp2p.services.profiles as unknown as { handle: StreamHandler }
    await device.libp2p.handle(PROFILE_PROTOCOL, async (stream, connection) => { await answer(service.handle, stream, connection) }, { force: true, maxInboundStreams })
    const address = device.libp2p.getMultiaddrs()[0]?.toString() ?? ''
    daemon = new Device({ dataDir: join(tmp.path, `daemon-${Date.now()}`), name: 'daemon', args: [...LOOPBACK, '--bootstrap', address] })
    await daemon.start()
    return { device, daemon }
  }

  it('asks again for the profile of a device whose first answer never came', async () => {
    // every exchange of its first second and a half is dropped (the daemon's own start-up
    // announcements included), as by a daemon whose event loop is seconds behind; from then on
    // it answers as usual (same protocols throughout: a change would be pushed and asked about anew)
    let firstAsked: number | undefined
    let dropped = 0
    let answered = 0
    const { device: slow, daemon: d } = await daemonDialling('slow', async (handle, stream, connection) => {
      firstAsked ??= Date.now()
      if (Date.now() - firstAsked < 1_500) {
        dropped++
        stream.abort(new Error('too busy'))
      } else {
        answered++
        await handle(stream, connection)
      }
    })
    // well before the other side's own fallback (it asks PROFILE_FALLBACK_MS after the connection opened)
    await until('the daemon lists the device', (PROFILE_RETRY_DELAYS_MS[0] ?? 0) + 4_000, async () =>
      (await d.json<DeviceRow[]>('devices')).some(r => r.id === slow.libp2p.peerId.toString() && r.online))
    assert.ok(dropped >= 1 && answered >= 1, `${dropped} dropped, ${answered} answered`)
  })

  it('waits for a device that answers seconds late instead of cutting the exchange and asking again', async () => {
    // an event loop 6 s behind: every answer starts 6 s after it was asked (within the exchange's time)
    let answered = 0
    let cut = 0
    await daemonDialling('late', async (handle, stream, connection) => {
      await new Promise(resolve => setTimeout(resolve, 6_000))
      await handle(stream, connection)
      // the asker gave up before the answer: the stream was reset under it
      if (stream.status === 'reset' || stream.status === 'aborted') cut++
      else answered++
    })
    // (the daemon may know it sooner: the other side asks too, and is quick to ask)
    await until('the first answer ends', 15_000, async () => answered + cut > 0)
    assert.deepEqual({ answered, cut }, { answered: 1, cut: 0 }, 'the daemon waited for the answer')
  })

  it('asks one exchange at a time on a connection, however often the device tells of a change', async () => {
    // each answer takes 3 s (a busy device); meanwhile it pushes identify (new addresses) four times
    let now = 0
    let most = 0
    let asked = 0
    const { device: pushy } = await daemonDialling('pushy', async (handle, stream, connection) => {
      asked++
      most = Math.max(most, ++now)
      try {
        await new Promise(resolve => setTimeout(resolve, 3_000))
        await handle(stream, connection)
      } finally {
        now--
      }
    }, 8)
    await until('asked once', 5_000, async () => asked > 0)
    const push = pushy.libp2p.services.identifyPush as unknown as { push(): Promise<void> }
    for (let i = 0; i < 4; i++) {
      await push.push()
      await new Promise(resolve => setTimeout(resolve, 1_100)) // identify push waits 1 s between pushes
    }
    await until('every answer given', 10_000, async () => now === 0)
    assert.equal(most, 1, `${most} exchanges at once`)
    assert.ok(asked >= 2, `the change was asked about after the first exchange (${asked} asked)`)
  })
})
