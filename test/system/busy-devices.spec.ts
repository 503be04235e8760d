import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { StreamHandler } from '@libp2p/interface'
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

  it('asks again for the profile of a device whose first answer never came', async () => {
    other = await rogueNode(rogueDir(tmp.path, `slow-${Date.now()}`), 'slow')
    const slow = other
    // every exchange of its first second and a half is dropped (the daemon's own start-up
    // announcements included), as by a daemon whose event loop is seconds behind; from then on
    // it answers as usual (same protocols throughout: a change would be pushed and asked about anew)
    const service = slow.libp2p.services.profiles as unknown as { handle: StreamHandler }
    let firstAsked: number | undefined
    let dropped = 0
    let answered = 0
    await slow.libp2p.handle(PROFILE_PROTOCOL, async (stream, connection) => {
      firstAsked ??= Date.now()
      if (Date.now() - firstAsked < 1_500) {
        dropped++
        stream.abort(new Error('too busy'))
      } else {
        answered++
        await service.handle(stream, connection)
      }
    }, { force: true })
    const address = slow.libp2p.getMultiaddrs()[0]?.toString() ?? ''
    daemon = new Device({ dataDir: join(tmp.path, `daemon-${Date.now()}`), name: 'daemon', args: [...LOOPBACK, '--bootstrap', address] })
    await daemon.start()
    const d = daemon
    // well before the other side's own fallback (it asks after twice the exchange timeout)
    await until('the daemon lists the device', (2_000) + 4_000, async () =>
      (await d.json<DeviceRow[]>('devices')).some(r => r.id === slow.libp2p.peerId.toString() && r.online))
    assert.ok(dropped >= 1 && answered >= 1, `${dropped} dropped, ${answered} answered`)
  })
})
