import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { eventually, tempDir, type Device, until } from '../../testbed/index.ts'
import { deliverPdus } from '../../testbed/gammu.ts'
import { messageOn, messagesOn, phoneAndLaptop, send } from '../../testbed/sms.ts'
import { ModemSim } from '../../testbed/tools/modem-sim.ts'
import { encodeSubmit } from '../../sms/codec/pdu.ts'
import { startHelper, type Helper } from '../../testbed/processes.ts'

const PTY_BRIDGE = fileURLToPath(new URL('../../testbed/tools/pty-bridge.py', import.meta.url))

describe('the AT modem backend (27.005 PDU mode, against a modem simulator)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  const modem = new ModemSim()
  let phone: Device, laptop: Device

  before(async () => {
    const port = await modem.listen()
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', `at+tcp://127.0.0.1:${port}?timeout=1500`]))
    await until('the modem ready', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    await modem.close()
    tmp.cleanup()
  })

  it('initialises the modem and tells its number; sends with +CMGS and reports delivered from +CDS', async () => {
    const status = await phone.json<{ sms: { number?: string } }>('status')
    assert.equal(status.sms.number, '+15550100002', 'from +CNUM')
    // the other devices see what the modem told, in the phone's profile
    const seen = await eventually('the SIM facts on the laptop', 10_000, async () =>
      (await laptop.json<Array<{ id: string, sim?: Record<string, unknown> }>>('devices')).find(d => d.id === phone.id)?.sim)
    assert.deepEqual(seen, { number: '+15550100002', carrier: 'Sim Mobile', signal: 4, discoverable: true }, 'discoverable: other companion accounts may find the number (--no-discoverable)')
    const id = await send(laptop, '+15550109999', 'hello through a modem')
    const m = await messageOn(laptop, id, x => x.status === 'delivered')
    assert.deepEqual(m.statusHistory.map(s => s.status), ['pending', 'accepted', 'sent', 'delivered'])
    assert.deepEqual(modem.sent.map(s => [s.to, s.text, s.statusReport]), [['+15550109999', 'hello through a modem', true]])
  })

  it('sends a long text in parts with one concatenation reference, delivered when every part is', async () => {
    const body = 'Plain GSM-7 with € and [brackets]. '.repeat(5)
    modem.sent.length = 0
    const id = await send(laptop, '+15550109999', body)
    await messageOn(laptop, id, x => x.status === 'delivered')
    assert.deepEqual(modem.sent.map(s => [s.part, s.parts]), [[1, 2], [2, 2]])
    assert.equal(modem.sent.map(s => s.text).join(''), body)
  })

  it('maps +CMS ERROR to a reason; a refusal before the network is retried, once', async () => {
    modem.failNextSend = 500
    const failed = await send(laptop, '+15550109999', 'the modem fails this one')
    assert.match((await messageOn(laptop, failed, x => x.status === 'failed')).reason ?? '', /unknown modem error \(\+CMS ERROR: 500\)/)
    modem.sent.length = 0
    modem.failNextSend = 331
    const retried = await send(laptop, '+15550109999', 'no network for a moment')
    await messageOn(laptop, retried, x => x.status === 'delivered', 20_000)
    assert.deepEqual(modem.sent.map(s => s.text), ['no network for a moment'])
  })

  it('takes incoming texts (+CMTI, +CMGR), deletes them once stored, and joins parts that come out of order or twice', async () => {
    modem.deliver(deliverPdus('a short reply', '+15550109999')[0] ?? '')
    const reply = await eventually('the reply', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'a short reply'))
    assert.equal(reply.from, '+15550109999')
    const long = 'A long answer that needs several parts, with an emoji 😀 to make it UCS-2. '.repeat(3)
    const parts = deliverPdus(long, '+15550109999')
    assert.ok(parts.length >= 3)
    // last first, then the rest, with the last one again
    for (const pdu of [parts[parts.length - 1], ...parts.slice(0, -1), parts[parts.length - 1]]) modem.deliver(pdu ?? '')
    await eventually('the long answer, whole', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === long))
    await until('the SIM emptied', 5_000, async () => modem.storage.size === 0)
    assert.equal((await messagesOn(laptop)).filter(m => m.body === long).length, 1)
  })

  it('waits for a modem that answers late (within its timeout)', async () => {
    modem.lateMs = 600
    try {
      const id = await send(laptop, '+15550109999', 'a slow modem')
      await messageOn(laptop, id, x => x.status === 'delivered')
    } finally {
      modem.lateMs = 0
    }
  })

  it('handles unsolicited lines in the middle of an answer and before the > prompt', async () => {
    const index = 90
    modem.storage.set(index, deliverPdus('arrived while sending', '+15550108888')[0] ?? '')
    modem.urcInsideNextSend = `+CMTI: "SM",${index}`
    const id = await send(laptop, '+15550109999', 'sent while a text arrives')
    await messageOn(laptop, id, x => x.status === 'delivered')
    await eventually('the text that arrived meanwhile', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'arrived while sending'))
    modem.storage.set(91, deliverPdus('arrived before the prompt', '+15550108888')[0] ?? '')
    modem.urcBeforeNextPrompt = '+CMTI: "SM",91'
    const second = await send(laptop, '+15550109999', 'a prompt after a URC')
    await messageOn(laptop, second, x => x.status === 'delivered')
    await eventually('the text that came before the prompt', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'arrived before the prompt'))
  })

  it('reopens a modem that stops answering; the message it swallowed ends outcome unknown, never sent twice', async () => {
    const before = modem.connections
    modem.silentNextSend = true
    modem.sent.length = 0
    const lost = await send(laptop, '+15550109999', 'swallowed by the modem')
    const m = await messageOn(laptop, lost, x => x.status === 'failed', 20_000)
    assert.match(m.reason ?? '', /outcome unknown/)
    await until('the modem reopened', 10_000, async () => modem.connections > before)
    const next = await send(laptop, '+15550109999', 'after the reopen')
    await messageOn(laptop, next, x => x.status === 'delivered', 20_000)
    assert.deepEqual(modem.sent.map(s => s.text), ['after the reopen'])
  })
})

describe('the AT modem backend on a serial device (a pty)', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  const modem = new ModemSim()
  let bridge: Helper | undefined
  let phone: Device, laptop: Device

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    bridge?.kill()
    await modem.close()
    tmp.cleanup()
  })

  it('opens the device through serialport and sends and receives as over TCP', async () => {
    const port = await modem.listen()
    bridge = startHelper(['/usr/bin/python3', PTY_BRIDGE, String(port)])
    const device = (await bridge.line(/^\/dev\//)).trim()
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', `at://${device}?baud=115200&timeout=1500`]))
    await until('the modem ready', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    const id = await send(laptop, '+15550109999', 'over a serial line')
    await messageOn(laptop, id, x => x.status === 'delivered')
    assert.deepEqual(modem.sent.map(s => s.text), ['over a serial line'])
    modem.deliver(deliverPdus('and back', '+15550109999')[0] ?? '')
    await eventually('the answer', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'and back'))
  })
})

describe('the AT modem\'s history (texts in the SIM\'s and the phone\'s storage from before)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  const modem = new ModemSim()
  let phone: Device, laptop: Device

  before(async () => {
    const port = await modem.listen()
    for (const pdu of deliverPdus('A long text read long ago on this modem. '.repeat(5), '+15550102001')) modem.keep('ME', pdu, 1)
    modem.keep('ME', encodeSubmit('+15550102002', 'sent from this modem before')[0]?.hex ?? '', 3)
    modem.keep('ME', encodeSubmit('+15550102002', 'a draft never sent')[0]?.hex ?? '', 2)
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', `at+tcp://127.0.0.1:${port}?timeout=1500`], undefined, {
      whileAlone: async (alone) => { await until('the phone imported its modem', 15_000, async () => (await messagesOn(alone)).length === 2) }
    }))
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    await modem.close()
    tmp.cleanup()
  })

  it('imports received and sent texts of the phone storage, joined, and chooses the SIM\'s storage again', async () => {
    const messages = await eventually('the history on the laptop', 15_000, async () => { const m = await messagesOn(laptop); return m.length === 2 ? m : undefined })
    const received = messages.find(m => m.direction === 'in')
    assert.equal(received?.body, 'A long text read long ago on this modem. '.repeat(5))
    assert.equal(received?.read, true)
    const sent = messages.find(m => m.direction === 'out')
    assert.deepEqual([sent?.to, sent?.body, sent?.status], [['+15550102002'], 'sent from this modem before', 'sent'])
    assert.equal(modem.chosen, 'SM')
    assert.equal(modem.phoneStorage.size, 4, 'the phone storage is history: left as it was')
    const again = await laptop.json<{ event: string }>('sms', 'import')
    assert.deepEqual(again, { event: 'done', scanned: 2, added: 0, contacts: 0 })
    // a text arriving after the import is still read from the SIM's storage and deleted there
    const pdu = deliverPdus('new after the import', '+15550102003')[0] ?? ''
    modem.deliver(pdu)
    await eventually('the new text on the laptop', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'new after the import'))
    await until('the SIM emptied', 5_000, async () => modem.storage.size === 0)
  })
})
