import assert from 'node:assert/strict'
import { Testbed, type Device, type DeviceRow, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { secretsOf, storedDhtRecord } from '../../testbed/dht.ts'

const rowOf = async (viewer: Device, other: Device): Promise<DeviceRow | undefined> =>
  (await viewer.json<DeviceRow[]>('devices')).find(r => r.id === other.id)

/** Restart a device with other daemon arguments and, optionally, a moved clock. */
async function restart (device: Device, args: string[], clock?: string): Promise<void> {
  await device.stop()
  device.init.args = args
  device.init.clock = clock
  await device.start()
}

describe('members are never forgotten', function () {
  this.timeout(120_000)
  let bed: Testbed | undefined

  afterEach(async () => {
    await bed?.close()
    bed = undefined
  })

  it('after 30 days off, a member is still listed, redialled and reconnected, with no mDNS to help', async () => {
    bed = new Testbed({ devices: 2, links: 1 })
    const [laptop, tablet] = bed.devices as [Device, Device]
    for (const d of bed.devices) await d.start()
    await until('they see each other', 10_000, async () => await bed!.allSeeEachOther())
    await pair(tablet, laptop)
    await until('members', 10_000, async () => (await rowOf(laptop, tablet))?.relation === 'member')
    await tablet.stop()
    await laptop.stop()

    // a month later (libp2p's peer store forgets a peer unseen for 6 hours)
    await restart(laptop, ['--no-mdns'], '+30d')
    const row = await rowOf(laptop, tablet)
    assert.equal(row?.relation, 'member', 'the tablet is still listed as a member')
    assert.equal(row?.online, false)
    assert.ok((row?.addresses.length ?? 0) > 0, 'with the addresses where it was last seen')
    await restart(tablet, ['--no-mdns'], '+30d')
    await until('reconnected from what each keeps of the other', 15_000, async () => await bed!.allSeeEachOther())
    assert.equal((await rowOf(tablet, laptop))?.relation, 'member')
  })

  it('finds a member whose address changed while the other was off, through the DHT', async () => {
    bed = new Testbed({ devices: 3, links: 1 })
    const [laptop, tablet, desktop] = bed.devices as [Device, Device, Device]
    for (const d of bed.devices) await d.start()
    await until('they see each other', 10_000, async () => await bed!.allSeeEachOther())
    await pair(tablet, laptop)
    await pair(desktop, laptop)
    await until('all members of each other', 10_000, async () =>
      (await rowOf(tablet, desktop))?.relation === 'member' && (await rowOf(desktop, tablet))?.relation === 'member')
    await laptop.stop()
    await tablet.stop()

    // both come back on other ports, without mDNS: neither is where the other remembers it;
    // the desktop (which stayed) is where both remember it, and holds their DHT records
    await restart(tablet, ['--no-mdns', '--listen', '/ip4/0.0.0.0/tcp/47011'])
    await restart(laptop, ['--no-mdns', '--listen', '/ip4/0.0.0.0/tcp/47012'])
    await until('the laptop reaches the tablet at its new address', 30_000, async () => {
      const row = await rowOf(laptop, tablet)
      return row?.online === true && row.addresses.some(a => a.includes('/tcp/47011'))
    })
    // what the desktop holds for the others to find: the tablet's new addresses, readable by members only
    const { record, plain } = await storedDhtRecord(desktop, tablet, await secretsOf(desktop), p => p.addrs.some(a => a.includes('/tcp/47011')))
    assert.ok(!new TextDecoder().decode(record.value).includes('47011'), 'the addresses are not in the clear')
    assert.ok(plain.addrs.every(a => !a.includes('/tcp/0/')))
  })
})
