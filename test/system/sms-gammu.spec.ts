import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually, tempDir, type Device } from '../../testbed/index.ts'
import { startHelper, type Helper } from '../../testbed/processes.ts'
import { messageOn, messagesOn, phoneAndLaptop, send } from '../../testbed/sms.ts'
import { decodeSpoolText } from '../../sms/backends/gammu-smsd.ts'

describe('the gammu-smsd backend (real gammu-smsd, dummy phone driver)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  const spool = join(tmp.path, 'spool')
  const rc = join(tmp.path, 'smsdrc')
  let smsd: Helper
  let phone: Device, laptop: Device

  before(async () => {
    for (const sub of ['inbox', 'outbox', 'sent', 'error']) mkdirSync(join(spool, sub), { recursive: true })
    mkdirSync(join(tmp.path, 'dummy'))
    writeFileSync(rc, [
      '[gammu]', `device = ${join(tmp.path, 'dummy')}`, 'connection = none', 'model = dummy', '',
      '[smsd]', 'service = files', `inboxpath = ${spool}/inbox/`, `outboxpath = ${spool}/outbox/`,
      `sentsmspath = ${spool}/sent/`, `errorsmspath = ${spool}/error/`, 'inboxformat = unicode', 'outboxformat = unicode',
      'transmitformat = auto', `logfile = ${tmp.path}/smsd.log`, 'debuglevel = 1', 'commtimeout = 1', 'receivefrequency = 1',
      'loopsleep = 1', 'checksecurity = 0', 'checkbattery = 0', 'checksignal = 0', 'checknetwork = 0', ''
    ].join('\n'))
    smsd = startHelper(['gammu-smsd', '-c', rc])
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', `gammu-smsd:${spool}`]))
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    smsd?.kill()
    await smsd?.exited
    tmp.cleanup()
  })

  it('queues a message in gammu\'s naming scheme that gammu-smsd sends, and follows it to sent/', async () => {
    const body = 'Grüße from the laptop € 😀'
    const id = await send(laptop, '+15550109999', body)
    await messageOn(laptop, id, m => m.status === 'sent', 20_000)
    const files = readdirSync(join(spool, 'sent'))
    assert.equal(files.length, 1)
    assert.match(files[0] ?? '', /^OUTC\d{8}_\d{6}_\d{2}_\+15550109999_.+\.txtd$/)
    assert.equal(decodeSpoolText(readFileSync(join(spool, 'sent', files[0] ?? ''))), body)
    assert.match(readFileSync(join(tmp.path, 'smsd.log'), 'utf8'), /Transmitted OUTC.*to \+15550109999/)
  })

  it('takes what gammu-smsd receives (a message saved on the phone with gammu savesms), once', async () => {
    execFileSync('gammu', ['-c', rc, 'savesms', 'TEXT', '-folder', '1', '-sender', '+15550109999', '-text', 'Réponse reçue ✓'])
    const reply = await eventually('the reply on the laptop', 20_000, async () => (await messagesOn(laptop)).find(m => m.direction === 'in'))
    assert.equal(reply.from, '+15550109999')
    assert.equal(reply.body, 'Réponse reçue ✓')
    assert.deepEqual(readdirSync(join(spool, 'inbox')), [], 'read files leave the inbox')
    assert.equal(await phone.stop(), 0)
    await phone.start()
    await new Promise(resolve => setTimeout(resolve, 1_500))
    assert.equal((await messagesOn(phone)).filter(m => m.direction === 'in').length, 1)
  })

  it('shows texts other tools sent through gammu-smsd, and imports the spool with each text once', async () => {
    execFileSync('gammu-smsd-inject', ['-c', rc, 'TEXT', '+15550102001', '-unicode', '-text', 'sent by another tool ✓'])
    const other = await eventually('the other tool\'s text on the laptop', 30_000, async () => (await messagesOn(laptop)).find(m => m.body === 'sent by another tool ✓'))
    assert.equal(other.direction, 'out')
    assert.equal(other.status, 'sent')
    assert.deepEqual(other.to, ['+15550102001'])
    const result = await laptop.json<{ event: string, scanned: number, added: number }>('sms', 'import')
    assert.deepEqual(result, { event: 'done', scanned: 3, added: 0, contacts: 0 })
    const all = await messagesOn(laptop)
    assert.equal(all.length, 3, 'the laptop\'s own text, the reply and the other tool\'s text, each once')
  })
})
