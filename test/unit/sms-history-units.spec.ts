import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { smsDevice, replicate, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { tempDir } from '../../testbed/index.ts'
import { EventSigner, type EventPayload } from '../../sms/signed-events.ts'
import { HistoryImport } from '../../sms/history.ts'
import type { SmsBackend, StoredSms } from '../../sms/backends/backend.ts'
import { listContacts } from '../../sms/contacts.ts'
import { prepared } from '../../sms/materialize.ts'
import { listConversations, listMessages } from '../../sms/views.ts'
import { parseVCards } from '../../sms/vcard.ts'
import { loadNumberPlans, toE164 } from '../../sms/national-numbers.ts'
import { InvalidEventError, InvalidContactsError } from '../../sms/errors.ts'

/** The part of a phone's backend the importer reads: its URI and SIM facts (the store's entries are handed to it). */
function phoneBackend (facts = { number: '+15550100002', country: 'US' }): SmsBackend {
  return { uri: 'termux?number=+15550100002', ready: true, facts, start: async () => {}, stop: async () => {}, send: async () => 'ref' }
}

const T = Date.parse('2026-10-01T08:00:00Z')

describe('the phone\'s history and contacts', function () {
  const tmp = tempDir()
  let n = 0
  after(() => { tmp.cleanup() })
  const device = async (hasBackend?: (device: string) => boolean): Promise<TestSmsDevice> => await smsDevice(tmp.path, `h-${n++}`, hasBackend)
  const importer = (d: TestSmsDevice): HistoryImport => new HistoryImport({ store: d.store, backend: phoneBackend(), receivers: () => undefined, log: logger('test') })

  describe('importing the store', () => {
    it('adds each entry once, received or sent, and never hands a sent one to the radio', async () => {
      const phone = await device()
      const history = importer(phone)
      const entries: StoredSms[] = [
        { key: '1', direction: 'in', party: '(555) 010-1001', body: 'hello', at: T, read: true, name: 'Ada Lovelace' },
        { key: '2', direction: 'out', party: '555-010-1001', body: 'hi Ada', at: T + 60_000 },
        { key: '3', direction: 'in', party: 'DHL Express', body: 'parcel', at: T + 120_000 }
      ]
      assert.equal(await history.take(entries), 3)
      assert.equal(await history.take(entries), 0, 'the same entries again add nothing')
      const messages = listMessages(phone.store.db, { limit: 10 })
      assert.deepEqual(messages.map(m => [m.direction, m.from ?? m.to[0], m.status, m.read]), [['in', '+15550101001', 'received', true], ['out', '+15550101001', 'sent', true], ['in', 'DHL Express', 'received', false]])
      assert.equal(prepared(phone.store.db, 'SELECT COUNT(*) AS n FROM proxy_parts').get()?.n, 0, 'history is never sent again')
      assert.equal(messages[0]?.name, 'Ada Lovelace', 'the store\'s sender name becomes a contact')
    })

    it('matches a sent entry to the text a member sent through the phone, by reference or by number, body and time, once', async () => {
      const phone = await device()
      await phone.store.write(tx => {
        const insert = prepared(tx.db, "INSERT INTO proxy_parts (id, recipient, author, body, state, ref, received_at) VALUES (?, ?, 'laptop', ?, 'sent', ?, ?)")
        insert.run('msg-by-laptop-1', '+15550101001', 'on my way', 'termux-1', T)
        insert.run('msg-by-laptop-2', '+15550101001', 'ok', null, T + 1_000)
      })
      const history = importer(phone)
      assert.equal(await history.take([
        { key: '10', direction: 'out', party: '+15550101001', body: 'on my way', at: T + 30_000, ref: 'termux-1' },
        { key: '11', direction: 'out', party: '+15550101001', body: 'ok', at: T + 2_000 },
        // the same words again, later: a text of its own, not the member's once more
        { key: '12', direction: 'out', party: '+15550101001', body: 'ok', at: T + 3_000 },
        // outside the window: typed on the phone the next day
        { key: '13', direction: 'out', party: '+15550101001', body: 'on my way', at: T + 86_400_000 }
      ]), 2)
      const keys = prepared(phone.store.db, 'SELECT key, id FROM stored_keys ORDER BY key').all() as Array<{ key: string, id: string }>
      assert.equal(keys[0]?.id, 'msg-by-laptop-1')
      assert.equal(keys[1]?.id, 'msg-by-laptop-2')
      assert.ok(keys[2]?.id.startsWith('st-') && keys[3]?.id.startsWith('st-'))
    })

    it('gives a received entry the id the live path gives the same SMS, so an import after it adds nothing', async () => {
      const phone = await device()
      const history = importer(phone)
      await history.take([{ key: '1', direction: 'in', party: '+15550101001', body: 'same', at: T }])
      // as the proxy writes what a radio hands it (sms/proxy.ts incoming)
      const { incomingId } = await import('../../sms/history.ts')
      assert.ok(listMessages(phone.store.db, { limit: 1 })[0]?.id === incomingId(phone.id, '+15550101001', T, 'same'))
    })
  })

  describe('what peers accept', () => {
    it('refuses a stored text written by a device without an SMS backend, and one not from the signer\'s own store', async () => {
      const phone = await device()
      const laptop = await device(d => d === phone.id)
      await assert.rejects(laptop.store.write(tx => {
        tx.append({ type: 'message', id: 'st-forged-00001', direction: 'out', from: null, to: ['+15550101001'], body: 'I never sent this', author: laptop.id, createdAt: T, via: laptop.id, stored: true })
      }), InvalidEventError)
      // the attacker signs by hand what its own store would refuse to write
      const forge = (payload: EventPayload): { signed: ReturnType<EventSigner['seal']> } => ({ signed: new EventSigner(laptop.key).seal(payload) })
      const victim = await device(d => d === phone.id)
      await victim.store.ingest([
        forge({ origin: laptop.id, seq: 1, event: { type: 'message', id: 'st-forged-00001', direction: 'out', from: null, to: ['+15550101001'], body: 'I never sent this', author: laptop.id, createdAt: T, via: laptop.id, stored: true } }),
        forge({ origin: laptop.id, seq: 2, event: { type: 'message', id: 'st-forged-00002', direction: 'out', from: null, to: ['+15550101001'], body: 'the phone sent this', author: laptop.id, createdAt: T, via: phone.id, stored: true } })
      ], () => true)
      assert.equal(listMessages(victim.store.db, { limit: 10 }).length, 0)
      const refused = prepared(victim.store.db, 'SELECT refused FROM events WHERE refused IS NOT NULL ORDER BY seq').all() as Array<{ refused: string }>
      assert.match(refused[0]?.refused ?? '', /device without an SMS backend/)
      assert.match(refused[1]?.refused ?? '', /not from the store of the device that signed it/)
    })

    it('refuses contacts with numbers that are none, and converges on the newest contact in any order', async () => {
      const a = await device()
      const b = await device()
      await assert.rejects(a.store.write(tx => { tx.append({ type: 'contact', id: 'c-0000000001', name: 'Eve', numbers: ['call me'], at: T }) }), InvalidEventError)
      await a.store.write(tx => { tx.append({ type: 'contact', id: 'c-0000000001', name: 'Ada', numbers: ['+15550101001'], at: T }) })
      await b.store.write(tx => { tx.append({ type: 'contact', id: 'c-0000000001', name: 'Ada Lovelace', numbers: ['+15550101001', '+15550101011'], at: T + 1 }) })
      const c = await device()
      const d = await device()
      await replicate(a.store, c.store)
      await replicate(b.store, c.store)
      await replicate(b.store, d.store)
      await replicate(a.store, d.store)
      assert.deepEqual(listContacts(c.store.db), [{ id: 'c-0000000001', name: 'Ada Lovelace', numbers: ['+15550101001', '+15550101011'] }])
      assert.deepEqual(listContacts(d.store.db), listContacts(c.store.db))
      // removed (no numbers) by the newest event: gone everywhere, and an older one does not bring it back
      await a.store.write(tx => { tx.append({ type: 'contact', id: 'c-0000000001', name: 'Ada Lovelace', numbers: [], at: T + 2 }) })
      await replicate(a.store, c.store)
      await replicate(b.store, c.store)
      assert.deepEqual(listContacts(c.store.db), [])
    })
  })

  describe('conversation summaries', () => {
    it('keep the counts, unread and newest text a full count gives, whatever order the events arrive in', async () => {
      const phone = await device()
      await phone.store.write(tx => {
        for (let i = 0; i < 60; i++) {
          const number = `+1555010${String(1000 + (i % 7)).padStart(4, '0')}`
          // equal times in one conversation: the newest is the higher id, on every device
          tx.append({ type: 'message', id: `msg-${String(i).padStart(4, '0')}`, direction: i % 3 === 0 ? 'out' : 'in', from: i % 3 === 0 ? null : number, to: i % 3 === 0 ? [number] : ['+15550100002'], body: `text ${i}`, author: phone.id, createdAt: T + Math.floor(i / 10) * 1000, via: phone.id })
        }
        tx.append({ type: 'read', ids: ['msg-0001', 'msg-0002', 'msg-0004', 'msg-0003'], at: T + 9_000 })
      })
      const counted = (db: typeof phone.store.db): unknown => db.prepare(`SELECT conversation, COUNT(*) AS messages, SUM(read = 0 AND direction = 'in') AS unread,
        (SELECT id FROM messages n WHERE n.conversation = m.conversation ORDER BY created_at DESC, id DESC LIMIT 1) AS last FROM messages m GROUP BY conversation ORDER BY conversation`).all().map(r => ({ ...r }))
      const summaries = (db: typeof phone.store.db): unknown => listConversations(db).map(c => ({ conversation: c.conversation, messages: c.messages, unread: c.unread, last: c.last.id })).sort((a, b) => a.conversation < b.conversation ? -1 : 1)
      assert.deepEqual(summaries(phone.store.db), counted(phone.store.db))
      const entries = phone.store.entriesAfter(phone.id, 0, 1_000).flatMap(e => e.kind === 'event' ? [{ signed: e.signed }] : [])
      for (const order of [entries.slice().reverse(), [...entries.slice(30), ...entries.slice(0, 30)]]) {
        const tablet = await device()
        for (const e of order) await tablet.store.ingest([e], () => true)
        assert.deepEqual(summaries(tablet.store.db), summaries(phone.store.db))
      }
    })
  })

  describe('names', () => {
    it('names a conversation from the newest contact holding each number, a group by each party', async () => {
      const phone = await device()
      await phone.store.write(tx => {
        tx.append({ type: 'contact', id: 'c-0000000001', name: 'Ada', numbers: ['+15550101001'], at: T })
        tx.append({ type: 'message', id: 'msg-group-01', direction: 'out', from: null, to: ['+15550101001', '+15550102002'], body: 'hi both', author: phone.id, createdAt: T })
        tx.append({ type: 'message', id: 'msg-stranger', direction: 'out', from: null, to: ['+15550102002'], body: 'hi', author: phone.id, createdAt: T + 1 })
      })
      const list = listConversations(phone.store.db)
      assert.equal(list.find(c => c.numbers.length === 2)?.name, 'Ada, +15550102002')
      assert.equal(list.find(c => c.numbers.length === 1)?.name, null)
    })

    it('reads national numbers in the SIM\'s plan, and leaves what it cannot place', async () => {
      await loadNumberPlans()
      assert.equal(toE164('(555) 010-1001', 'US'), '+15550101001')
      assert.equal(toE164('0151 23456789', 'DE'), '+4915123456789')
      assert.equal(toE164('+44 20 7946 0000', 'DE'), '+442079460000')
      assert.equal(toE164('12345'), '12345')
      assert.equal(toE164('(555) 010-1001'), undefined, 'no country, no plan')
      assert.equal(toE164('555-0100', 'US'), undefined)
      assert.equal(toE164('call me', 'US'), undefined)
    })
  })

  describe('vCard files', () => {
    it('reads vCard 3 and 4: folded lines, escapes, N without FN, groups, tel: URIs, several numbers', () => {
      const text = [
        'BEGIN:VCARD', 'VERSION:3.0', 'N:Lovelace;Ada;;;', 'TEL;TYPE=CELL:+1 555 010 1001', 'item1.TEL;TYPE=HOME:(555) 010-', ' 1011', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:4.0', 'UID:urn:uuid:1', 'FN:Hopper\\, Grace', 'TEL;VALUE=uri:tel:+1-555-010-1002;ext=5', 'PHOTO;ENCODING=b:AAAA', 'END:VCARD',
        'BEGIN:VCARD', 'VERSION:4.0', 'FN:No Number', 'END:VCARD'
      ].join('\r\n')
      assert.deepEqual(parseVCards(text), [
        { name: 'Ada Lovelace', numbers: ['+1 555 010 1001', '(555) 010-1011'] },
        { uid: 'urn:uuid:1', name: 'Hopper, Grace', numbers: ['+1-555-010-1002'] }
      ])
      assert.throws(() => parseVCards('name,number\nAda,+15550101001'), InvalidContactsError)
    })
  })
})
