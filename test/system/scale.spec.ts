import assert from 'node:assert/strict'
import { Testbed } from '../../testbed/index.ts'
import { allOnlineAfter, pairsOnline, startTogether } from '../../testbed/scale.ts'

const DEVICES = 20

/**
 * Twenty unpaired daemons, one per namespace, each on two links, started at the same moment
 * on a two-core machine: the start-up load makes handshakes and exchanges time out, which
 * once left pairs apart for good. How fast they meet is a benchmark (bench/scale.ts); here,
 * that they all do and stay so.
 */
describe('twenty devices on one LAN', function () {
  this.timeout(360_000)
  let bed: Testbed | undefined

  afterEach(async function () {
    await bed?.closeAfter(this.currentTest)
    bed = undefined
  })

  it('started together, every device sees the 19 others online, and they stay online', async () => {
    bed = new Testbed({ devices: DEVICES, links: 2, readyTimeoutMs: 150_000 })
    const lastReady = await startTogether(bed.devices)
    const after = await allOnlineAfter(bed, lastReady, 150_000)
    assert.ok(after != null, `pairs still apart after 150 s: ${(await pairsOnline(bed)).missing.join(' ')}`)
    // nothing that runs once they are idle (pings, lookups, mDNS) takes a pair apart
    await new Promise(resolve => setTimeout(resolve, 20_000))
    assert.deepEqual((await pairsOnline(bed)).missing, [])
  })
})
