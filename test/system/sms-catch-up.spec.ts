import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { SMS_DB_FILE } from '../../sms/service.ts'
import { Testbed, until, type Device } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier, messagesOn, send } from '../../testbed/sms.ts'

const PHONE_NUMBER = '+15550100007'

/** The bytes of a device's log as sync frames carry it (docs/PROTOCOL.md §8.3): entry, signature, stub signature. */
function wireSize (device: Device): number {
  const db = new DatabaseSync(join(device.dataDir, SMS_DB_FILE), { readOnly: true })
  try {
    const rows = db.prepare('SELECT payload, stub IS NOT NULL AS stubbed FROM events').all() as Array<{ payload: string, stubbed: number }>
    return rows.reduce((sum, r) => sum + 4 + JSON.stringify({ t: 'e', p: r.payload, s: 'x'.repeat(88), ...(r.stubbed === 1 ? { h: 'x'.repeat(88) } : {}) }).length, 0)
  } finally {
    db.close()
  }
}
const TEXTS = 1500

describe('a new device catching up on a long history', function () {
  this.timeout(240_000)
  let bed: Testbed
  let carrier: SimCarrier
  let phone: Device, laptop: Device, tablet: Device, desktop: Device

  before(async () => {
    bed = new Testbed({
      devices: 4,
      links: 1,
      args: (i) => ({ 1: ['--kind', 'phone', '--sms', `sim://127.0.0.1:7700/${PHONE_NUMBER}`, '--sms-rate', '100000/min'], 2: ['--kind', 'laptop'], 3: ['--kind', 'tablet'], 4: ['--kind', 'desktop'] })[i] ?? []
    })
    ;[phone, laptop, tablet, desktop] = bed.devices as [Device, Device, Device, Device]
    carrier = new SimCarrier(bed.lan.host(1).ns)
    await carrier.start()
    await phone.start()
    await laptop.start()
    await until('phone and laptop see each other', 15_000, async () => await bed.allSeeEachOther([phone, laptop]))
    await pair(laptop, phone)
  })

  after(async () => {
    carrier?.stop()
    await bed?.close()
  })

  it('takes the whole log once, from one member after the other, and sends none of it back to them', async () => {
    // a history: texts from the laptop through the phone, each a message, an assignment and statuses
    for (let i = 0; i < TEXTS; i += 25) await Promise.all(Array.from({ length: 25 }, async (_, k) => await send(laptop, '+15550109007', `text ${i + k} of a long history`)))
    await until('every text sent, as the phone knows it', 120_000, async () => (await messagesOn(phone)).filter(m => m.status === 'sent').length === TEXTS, 1000)
    const holdsAll = async (device: Device): Promise<boolean> => (await messagesOn(device)).filter(m => m.status === 'sent').length === TEXTS

    // two members hold it, and the tablet joins
    await tablet.start()
    await until('the tablet sees its neighbours', 15_000, async () => await bed.allSeeEachOther([phone, laptop, tablet]))
    await pair(tablet, laptop)
    await until('the tablet holds the whole history, sent', 120_000, async () => await holdsAll(tablet), 1000)
    const log = wireSize(laptop)
    assert.ok(log > 1_000_000, `a log of ${log} bytes`)

    // now three members hold it, and the desktop joins
    const before = { phone: bed.lan.received(1, 'a'), laptop: bed.lan.received(2, 'a'), tablet: bed.lan.received(3, 'a'), desktop: bed.lan.received(4, 'a') }
    await desktop.start()
    await until('the desktop sees its neighbours', 15_000, async () => await bed.allSeeEachOther())
    await pair(desktop, laptop)
    await until('the desktop holds the whole history, sent', 120_000, async () => await holdsAll(desktop), 1000)
    // the relays a device sends a member come 250 ms after it stored them: wait them out
    await new Promise(resolve => setTimeout(resolve, 3000))
    const got = { phone: bed.lan.received(1, 'a') - before.phone, laptop: bed.lan.received(2, 'a') - before.laptop, tablet: bed.lan.received(3, 'a') - before.tablet, desktop: bed.lan.received(4, 'a') - before.desktop }
    // each member sending the whole log at once, the desktop took it three times over
    assert.ok(got.desktop < log * 1.5, `the desktop received ${got.desktop} bytes for a log of ${log}`)
    // without the members' vectors, the desktop passed on to each what it had just taken from the others
    for (const member of ['phone', 'laptop', 'tablet'] as const) {
      assert.ok(got[member] < got.desktop / 5, `the ${member} received ${got[member]} bytes while the desktop caught up on ${got.desktop}`)
    }
  })
})
