import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { eventually, tempDir, type Device, until } from '../../testbed/index.ts'
import { startHelper, type Helper } from '../../testbed/processes.ts'
import { messageOn, messagesOn, phoneAndLaptop, send } from '../../testbed/sms.ts'

const STANDIN = fileURLToPath(new URL('../../testbed/tools/mm-standin.ts', import.meta.url))

describe('the ModemManager backend (a stand-in ModemManager on a private D-Bus)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  let mm: Helper
  let phone: Device, laptop: Device

  before(async () => {
    mm = startHelper(['dbus-run-session', '--', process.execPath, STANDIN], undefined, { stdin: true })
    const address = (await mm.line(/^bus /)).slice('bus '.length).trim()
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', 'mmcli:0'], { DBUS_SYSTEM_BUS_ADDRESS: address }))
    await until('ModemManager ready', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    // closing its stdin ends the stand-in, and with it the private bus
    mm?.child.stdin?.end()
    await Promise.race([mm?.exited, new Promise(resolve => setTimeout(resolve, 3_000))])
    mm?.kill('SIGKILL')
    tmp.cleanup()
  })

  it('sends with Messaging.Create and Sms.Send, and a status-report object makes it delivered', async () => {
    assert.equal((await phone.json<{ sms: { number?: string } }>('status')).sms.number, '+15550100002', 'from Modem.OwnNumbers')
    const id = await send(laptop, '+15550109999', 'through ModemManager ✓')
    await messageOn(laptop, id, m => m.status === 'delivered')
    assert.match(mm.stdout(), /sent \{"number":"\+15550109999","text":"through ModemManager ✓"\}/)
  })

  it('says why when the modem cannot send', async () => {
    const id = await send(laptop, '+15550106666', 'doomed')
    const m = await messageOn(laptop, id, x => x.status === 'failed')
    assert.match(m.reason ?? '', /the modem could not send it: .*Network failure/)
  })

  it('takes received messages (Messaging.Added, state received) and deletes them once stored', async () => {
    mm.write('incoming {"number":"+15550109999","text":"reply via ModemManager"}\n')
    const reply = await eventually('the reply on the laptop', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'reply via ModemManager'))
    assert.equal(reply.from, '+15550109999')
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal((await messagesOn(phone)).filter(m => m.body === 'reply via ModemManager').length, 1)
  })

  it('shows a text another program sent on the modem, and imports what the modem holds once', async () => {
    mm.write('sent-elsewhere {"number":"+15550102001","text":"sent with mmcli"}\n')
    const other = await eventually('the text on the laptop', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'sent with mmcli'))
    assert.equal(other.direction, 'out')
    assert.equal(other.status, 'sent')
    const before = (await messagesOn(laptop)).length
    const result = await laptop.json<{ event: string, scanned: number, added: number }>('sms', 'import')
    assert.deepEqual(result, { event: 'done', scanned: 1, added: 0, contacts: 0 }, 'received texts were deleted once stored; the other program\'s text stays on the modem')
    assert.equal((await messagesOn(laptop)).length, before)
  })
})
