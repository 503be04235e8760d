import assert from 'node:assert/strict'
import { Testbed, until, type Device } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier, messagesOn, send } from '../../testbed/sms.ts'

const PHONE_NUMBER = '+15550100007'
const TEXTS = 1500

describe('a new device catching up on a long history', function () {
  this.timeout(240_000)
  let bed: Testbed
  let carrier: SimCarrier
  let phone: Device, laptop: Device, tablet: Device

  before(async () => {
    bed = new Testbed({
      devices: 3,
      links: 1,
      args: (i) => ({ 1: ['--kind', 'phone', '--sms', `sim://127.0.0.1:7700/${PHONE_NUMBER}`, '--sms-rate', '100000/min'], 2: ['--kind', 'laptop'], 3: ['--kind', 'tablet'] })[i] ?? []
    })
    ;[phone, laptop, tablet] = bed.devices as [Device, Device, Device]
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

  it('takes the whole log from its members, and does not send it back to them', async () => {
    // a history: texts from the laptop through the phone, each a message, an assignment and statuses
    for (let i = 0; i < TEXTS; i += 25) await Promise.all(Array.from({ length: 25 }, async (_, k) => await send(laptop, '+15550109007', `text ${i + k} of a long history`)))
    await until('every text sent, as the phone knows it', 120_000, async () => (await messagesOn(phone)).filter(m => m.status === 'sent').length === TEXTS, 1000)

    const before = { phone: bed.lan.received(1, 'a'), laptop: bed.lan.received(2, 'a'), tablet: bed.lan.received(3, 'a') }
    await tablet.start()
    await until('the tablet sees its neighbours', 15_000, async () => await bed.allSeeEachOther())
    await pair(tablet, laptop)
    await until('the tablet holds the whole history, sent', 120_000, async () => (await messagesOn(tablet)).filter(m => m.status === 'sent').length === TEXTS, 1000)
    // the relays a device sends a member come 250 ms after it stored them: wait them out
    await new Promise(resolve => setTimeout(resolve, 3000))
    const got = { phone: bed.lan.received(1, 'a') - before.phone, laptop: bed.lan.received(2, 'a') - before.laptop, tablet: bed.lan.received(3, 'a') - before.tablet }
    assert.ok(got.tablet > 1_000_000, `the tablet received the log (${got.tablet} bytes)`)
    // without the members' vectors, the tablet passed on to each what it had just taken from the other: about the whole log again
    for (const member of ['phone', 'laptop'] as const) {
      assert.ok(got[member] < got.tablet / 5, `the ${member} received ${got[member]} bytes while the tablet caught up on ${got.tablet}`)
    }
  })
})
