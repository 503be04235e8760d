import assert from 'node:assert/strict'
import { Testbed, type DeviceRow, until } from '../../testbed/index.ts'

describe('discovery on a LAN with no server', function () {
  this.timeout(120_000)
  let bed: Testbed | undefined

  afterEach(async () => {
    await bed?.close()
    bed = undefined
  })

  it('three daemons see each other online within 2 s of the last start, with nothing configured', async () => {
    bed = new Testbed({ devices: 3 })
    for (const device of bed.devices) await device.start()
    const lastReady = Date.now()
    await until('every device online on every other', 2_000, async () => await bed!.allSeeEachOther())
    const elapsed = Date.now() - lastReady
    assert.ok(elapsed <= 2_000, `took ${elapsed} ms`)

    // names and kinds travel with the (public) profile exchange
    const rows = await bed.device(1).json<DeviceRow[]>('devices')
    assert.deepEqual(rows.map(r => r.name).sort(), ['device-1', 'device-2', 'device-3'])
    assert.equal(rows.find(r => r.relation === 'self')?.id, bed.device(1).id)
    for (const row of rows.filter(r => r.relation !== 'self')) {
      assert.equal(row.relation, 'nearby')
      assert.equal(row.online, true)
      assert.equal(row.link?.kind, 'wired', 'veth links classify as wired')
      assert.match(row.link?.remote ?? '', /^\/ip4\/198\.18\.[12]\./, 'never a loopback address')
    }
  })

  it('a restarted daemon keeps its id and is reconnected by the others', async () => {
    bed = new Testbed({ devices: 3 })
    for (const device of bed.devices) await device.start()
    await until('all online', 5_000, async () => await bed!.allSeeEachOther())
    const [d1, d2, d3] = bed.devices as [typeof bed.devices[0], typeof bed.devices[0], typeof bed.devices[0]]
    const before = d2.id

    assert.equal(await d2.stop(), 0, 'SIGTERM stops the daemon cleanly')
    await until('others see device 2 offline', 5_000, async () => {
      const [s1, s3] = [await bed!.onlineSeenBy(d1), await bed!.onlineSeenBy(d3)]
      return !s1.has(before) && !s3.has(before)
    })
    const offline = (await d1.json<DeviceRow[]>('devices')).find(r => r.id === before)
    assert.equal(offline?.online, false, 'a known device stays listed while offline')
    assert.equal(offline?.name, 'device-2')

    // direct addresses only: a relayed address carries the relay's port
    const direct = (addrs: string[]): string[] => addrs.filter(a => !a.includes('/p2p-circuit'))
    const portBefore = /\/tcp\/(\d+)/.exec(direct(offline?.addresses ?? [])[0] ?? '')?.[1]
    assert.equal(await d2.start(), before, 'same device id after restart')
    const addresses = direct((await d2.json<{ addresses: string[] }>('status')).addresses)
    assert.ok(addresses.length > 0 && addresses.every(a => a.includes(`/tcp/${portBefore ?? 'none'}`)), `same port ${portBefore ?? ''} after restart: ${addresses.join(' ')}`)
    await until('device 2 back online everywhere', 5_000, async () => await bed!.allSeeEachOther())
  })

  it('finds a device that joins the network without waiting for the periodic mDNS query', async () => {
    bed = new Testbed({ devices: 2, links: 1 })
    const [d1, d2] = bed.devices as [typeof bed.devices[0], typeof bed.devices[0]]
    bed.lan.setLink(2, 'a', false)
    await d1.start()
    await d2.start()
    await new Promise(resolve => setTimeout(resolve, 1_000))
    assert.equal((await bed.onlineSeenBy(d1)).size, 0, 'nobody online while device 2 has no network')
    bed.lan.setLink(2, 'a', true)
    // the interface watcher notices within 2 s and queries again; the periodic query is 10 s away
    await until('found after joining', 5_000, async () => await bed!.allSeeEachOther())
  })

  it('stops cleanly on SIGINT too', async () => {
    bed = new Testbed({ devices: 1, links: 1 })
    await bed.device(1).start()
    assert.equal(await bed.device(1).stop('SIGINT'), 0)
  })

  it('redials known devices after a restart without mDNS', async () => {
    bed = new Testbed({ devices: 2, links: 1, args: () => ['--no-mdns'] })
    const [d1, d2] = bed.devices as [typeof bed.devices[0], typeof bed.devices[0]]
    await d1.start()
    const port = (await d1.json<{ addresses: string[] }>('status')).addresses[0]
    assert.ok(port != null)
    await d2.start()
    const dial = await d2.json<DeviceRow>('dial', port)
    assert.equal(dial.id, d1.id)
    assert.equal(dial.name, 'device-1')
    await until('connected both ways', 5_000, async () => await bed!.allSeeEachOther())

    // both restart; neither has mDNS nor a bootstrap address: the persisted peer store is all they have
    await d1.stop()
    await d2.stop()
    await d1.start()
    await d2.start()
    await until('reconnected from the peer store', 10_000, async () => await bed!.allSeeEachOther())
  })

  it('finds a device on another subnet through the DHT, via a device on both, and reaches it directly', async () => {
    // 1 on subnet a; 2 on a and c (the stepping stone); 3 on subnet c only, behind the router
    bed = new Testbed({ devices: 2, links: 1, remoteDevices: 1, dualHomed: [2] })
    const [d1, , d3] = bed.devices as [typeof bed.devices[0], typeof bed.devices[0], typeof bed.devices[0]]
    for (const device of bed.devices) await device.start()
    await until('1 and 3 see each other', 20_000, async () => {
      const [s1, s3] = [await bed!.onlineSeenBy(d1), await bed!.onlineSeenBy(d3)]
      return s1.has(d3.id) && s3.has(d1.id)
    })
    const row = (await d1.json<DeviceRow[]>('devices')).find(r => r.id === d3.id)
    assert.equal(row?.name, 'device-3')
    assert.match(row?.link?.remote ?? '', /^\/ip4\/198\.18\.3\.3\//, 'a direct connection through the router, not a relay')
    assert.ok(row?.link?.rttMs == null || row.link.rttMs >= 0)
  })

  it('works with --no-mdns and --bootstrap on a network that blocks multicast', async () => {
    bed = new Testbed({ devices: 3, links: 1, args: () => ['--no-mdns'] })
    const [d1, d2, d3] = bed.devices as [typeof bed.devices[0], typeof bed.devices[0], typeof bed.devices[0]]
    await d1.start()
    const boot = (await d1.json<{ addresses: string[] }>('status')).addresses[0] ?? ''
    d2.init.args = ['--no-mdns', '--bootstrap', boot]
    d3.init.args = ['--no-mdns', '--bootstrap', boot]
    await d2.start()
    await d3.start()
    // 2 and 3 only know 1; they find each other through the DHT
    await until('all three connected', 20_000, async () => await bed!.allSeeEachOther())
  })
})
