import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { CLI, eventually, tempDir, type Device, until } from '../../testbed/index.ts'
import { messagesOn, phoneAndLaptop, send } from '../../testbed/sms.ts'
import { TermuxPhoneStore, termuxTime, type TermuxEntry } from '../../testbed/termux.ts'
import type { ContactView, ConversationView } from '../../sms/view-types.ts'

/** Eight people of the phone's contacts (one with two numbers, one written in the national form) and four strangers. */
const CONTACTS = [
  { name: 'Ada Lovelace', number: '(555) 010-1001' },
  { name: 'Grace Hopper', number: '+15550101002' },
  { name: 'Grace Hopper', number: '+15550101012' },
  { name: 'Alan Turing', number: '+15550101003' },
  { name: 'Edsger Dijkstra', number: '+15550101004' },
  { name: 'Barbara Liskov', number: '+15550101005' },
  { name: 'Donald Knuth', number: '+15550101006' },
  { name: 'Frances Allen', number: '+15550101007' },
  { name: 'Ken Thompson', number: '+15550101008' }
]
const THREADS = ['(555) 010-1001', '+15550101002', '+15550101003', '+15550101004', '+15550101005', '+15550101006', '+15550101007', '+15550101008', '+15550102001', '+15550102002', '+15550102003', '+15550102004']
const PER_THREAD = 25

/** 300 texts in 12 threads, half received (some of them read on the phone), half sent from the phone's app, a minute apart. */
function history (): TermuxEntry[] {
  const start = Date.parse('2026-10-01T08:00:00Z')
  const entries: TermuxEntry[] = []
  for (let i = 0; i < PER_THREAD; i++) {
    THREADS.forEach((number, t) => {
      const incoming = i % 2 === 0
      entries.push({ _id: entries.length + 1, threadid: t + 1, type: incoming ? 'inbox' : 'sent', read: incoming && i < 20, number, body: `${incoming ? 'hi from' : 'reply to'} thread ${t} #${i}`, received: termuxTime(start + (i * THREADS.length + t) * 60_000) })
    })
  }
  return entries
}

describe('the phone\'s whole history with names (Termux store, a laptop that pairs afterwards)', function () {
  this.timeout(120_000)
  const tmp = tempDir()
  const store = new TermuxPhoneStore(join(tmp.path, 'termux'))
  let phone: Device, laptop: Device

  const conversations = async (device: Device): Promise<ConversationView[]> => await device.json<ConversationView[]>('sms', 'conversations')

  before(async () => {
    store.write([...history(), { _id: 999, type: 'draft', number: '+15550101003', body: 'a draft never sent', received: termuxTime(Date.now()) }])
    store.contacts(CONTACTS)
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', 'termux?number=+15550100002'], store.env(), {
      // the store is imported when the backend is first attached, before anyone pairs
      whileAlone: async (alone) => {
        await until('the phone imported its store', 30_000, async () => (await messagesOn(alone)).length === 300)
      }
    }))
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    tmp.cleanup()
  })

  it('shows the laptop all 300 texts in 12 conversations, 8 of them named, after pairing', async () => {
    let seen: ConversationView[] = []
    const list = await eventually('12 named conversations on the laptop', 20_000, async () => {
      const c = seen = await conversations(laptop)
      return c.length === 12 && c.filter(x => x.name != null).length === 8 && c.reduce((n, x) => n + x.messages, 0) === 300 ? c : undefined
    }).catch(err => { throw new Error(`${(err as Error).message}; the laptop has ${JSON.stringify(seen.map(c => [c.name, c.numbers, c.messages]))}`) })
    const ada = list.find(c => c.numbers[0] === '+15550101001')
    assert.equal(ada?.name, 'Ada Lovelace', 'a number the store writes in the national form is matched in E.164')
    assert.equal(list.find(c => c.numbers[0] === '+15550102001')?.name, null)
    const messages = await messagesOn(laptop)
    assert.equal(messages.length, 300)
    assert.ok(!messages.some(m => m.body === 'a draft never sent'), 'drafts are not texts')
    const sent = messages.filter(m => m.direction === 'out')
    assert.equal(sent.length, 144)
    assert.ok(sent.every(m => m.status === 'sent' && m.author === phone.id && m.via === phone.id), 'what the phone\'s app sent is sent, by the phone')
    assert.equal(messages.filter(m => m.direction === 'in' && !m.read).length, 12 * 3, 'what was read on the phone is read')
    assert.equal(messages.find(m => m.body === 'hi from thread 1 #0')?.name, 'Grace Hopper')
    const contacts = await laptop.json<ContactView[]>('contacts')
    assert.deepEqual(contacts.find(c => c.name === 'Grace Hopper')?.numbers, ['+15550101002', '+15550101012'])
    assert.equal(contacts.length, 8)
    assert.deepEqual(store.sent(), [], 'nothing of the history was sent again')
  })

  it('shows a text typed on the phone itself, and one it receives, on the laptop', async () => {
    store.add({ type: 'sent', number: '+15550102002', body: 'typed on the phone' })
    store.add({ type: 'inbox', number: '+15550101004', body: 'a new one for the phone' })
    const typed = await eventually('the typed text on the laptop', 15_000, async () => (await messagesOn(laptop)).find(m => m.body === 'typed on the phone'))
    assert.equal(typed.direction, 'out')
    assert.equal(typed.status, 'sent')
    assert.equal(typed.author, phone.id)
    const received = await eventually('the received text on the laptop', 15_000, async () => (await messagesOn(laptop)).find(m => m.body === 'a new one for the phone'))
    assert.equal(received.name, 'Edsger Dijkstra')
    assert.equal(received.read, false)
  })

  it('shows a text the laptop sent once, when the phone\'s store has it as sent too', async () => {
    const id = await send(laptop, '+15550101005', 'sent from the laptop')
    await eventually('the text in the phone\'s store', 15_000, async () => store.entries().find(e => e.body === 'sent from the laptop'))
    // the store entry is read within a poll (3 s); then it must have matched, not added
    await new Promise(resolve => setTimeout(resolve, 4_000))
    const copies = (await messagesOn(laptop)).filter(m => m.body === 'sent from the laptop')
    assert.deepEqual(copies.map(m => m.id), [id])
    assert.equal((await messagesOn(phone)).filter(m => m.body === 'sent from the laptop').length, 1)
  })

  it('imports again on demand, on the phone or asked from the laptop, adding nothing twice', async () => {
    const here = await phone.cli('sms', 'import', '--json')
    assert.equal(here.code, 0, here.stderr)
    const lines = here.stdout.trim().split('\n').map(l => JSON.parse(l) as { event: string, scanned?: number, added?: number })
    assert.deepEqual(lines.at(-1), { event: 'done', scanned: 303, added: 0, contacts: 0 })
    const remote = await laptop.cli('sms', 'import')
    assert.equal(remote.code, 0, remote.stderr)
    assert.match(remote.stdout, /303 texts read from the phone, 0 new; 0 contacts new or changed/)
    // on a terminal (script(1) gives the CLI one): a bar on stderr while it runs, redrawn in place
    const tty = execFileSync('script', ['-qec', `${process.execPath} ${CLI} --data-dir ${laptop.dataDir} sms import`, '/dev/null'], { encoding: 'utf8' })
    assert.match(tty, /\r\[[·█]{24}\] \d+ texts read, 0 new/)
    assert.match(tty, /303 texts read from the phone, 0 new/)
    const since = await laptop.json<{ event: string }>('sms', 'import', '--since', '2026-10-01T12:00:00Z')
    assert.deepEqual(since, { event: 'done', scanned: 63, added: 0, contacts: 0 })
    assert.equal((await messagesOn(laptop)).length, 303)
  })

  it('keeps everything once across a restart of the phone', async () => {
    assert.equal(await phone.stop(), 0)
    await phone.start()
    await until('the phone reads its store again', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    assert.equal((await messagesOn(phone)).length, 303)
  })

  it('names numbers from a vCard file imported on the laptop, on every device', async () => {
    const file = join(tmp.path, 'friends.vcf')
    writeFileSync(file, [
      'BEGIN:VCARD', 'VERSION:3.0', 'FN:Margaret Hamilton', 'N:Hamilton;Margaret;;;', 'TEL;TYPE=CELL:(555) 010-2001', 'item1.TEL:+1 555 010 2099', 'END:VCARD',
      'BEGIN:VCARD', 'VERSION:4.0', 'UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1', 'FN:John McCarthy', 'TEL;VALUE=uri;TYPE="voice,cell":tel:+1-555-010-2002', 'END:VCARD',
      'BEGIN:VCARD', 'VERSION:4.0', 'FN:Nobody Without Numbers', 'END:VCARD'
    ].join('\r\n'))
    const result = await laptop.cli('contacts', 'import', file)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /^2 contacts new or changed/)
    const named = await eventually('the names on the phone', 15_000, async () => {
      const c = await conversations(phone)
      const hamilton = c.find(x => x.numbers[0] === '+15550102001')
      return hamilton?.name === 'Margaret Hamilton' ? c : undefined
    })
    assert.equal(named.find(x => x.numbers[0] === '+15550102002')?.name, 'John McCarthy')
    const table = await laptop.cli('sms', 'conversations')
    assert.match(table.stdout, /^NAME\s+WITH/)
    assert.match(table.stdout, /Margaret Hamilton\s+\+15550102001/)
    const again = await laptop.cli('contacts', 'import', file)
    assert.match(again.stdout, /^0 contacts new or changed/)
    const notACard = join(tmp.path, 'notes.txt')
    writeFileSync(notACard, 'hello')
    const bad = await laptop.cli('contacts', 'import', notACard)
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /not a vCard file/)
  })

  it('imports for a member only while the phone lets it see its texts (sms.receive)', async () => {
    assert.equal((await phone.cli('revoke', laptop.id, 'sms.receive')).code, 0)
    const refused = await laptop.cli('sms', 'import')
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /the phone says: this phone does not let your device see its texts \(sms.receive\)/)
    assert.equal((await phone.cli('grant', laptop.id, 'sms.receive')).code, 0)
    assert.equal((await laptop.cli('sms', 'import')).code, 0)
  })
})

describe('a Termux:API that may not read SMS (its Google Play build)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  const store = new TermuxPhoneStore(join(tmp.path, 'termux'))
  let phone: Device, laptop: Device

  before(async () => {
    writeFileSync(join(store.dir, 'google-play'), '')
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', 'termux?number=+15550100002'], store.env()))
  })

  after(async () => {
    await phone?.stop()
    await laptop?.stop()
    tmp.cleanup()
  })

  it('says why the history cannot be read, and still sends', async () => {
    await until('the phone ready to send', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    await until('the laptop knows the phone', 10_000, async () => (await laptop.json<Array<{ id: string, online: boolean, capabilities: string[] }>>('devices')).some(d => d.id === phone.id && d.online && d.capabilities.includes('sms.receive')))
    const result = await laptop.cli('sms', 'import')
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /Google Play build.*F-Droid/)
    const id = await send(laptop, '+15550109999', 'still sent')
    await eventually('sent', 15_000, async () => (await messagesOn(laptop)).find(m => m.id === id && m.status === 'sent'))
  })
})
