/**
 * Fuzz targets for what a phone's store and address books hand the daemon: Termux's
 * `termux-sms-list` answers, a modem's `+CMGL` listings and vCard files. Whatever they hold,
 * parsing refuses it clearly or yields texts and contacts the log takes: a write that failed
 * on one odd entry would fail again at every poll, and nothing after it would ever come in.
 */
import { logger } from '@libp2p/logger'
import { parseList, storedOf } from '../../sms/backends/termux.ts'
import { parseCmgl, textsOf } from '../../sms/backends/at/at-history.ts'
import type { SmsBackend, StoredSms } from '../../sms/backends/backend.ts'
import { HistoryImport } from '../../sms/history.ts'
import { HistoryUnavailableError, InvalidContactsError } from '../../sms/errors.ts'
import { contactEvents, contactId } from '../../sms/contacts.ts'
import { loadNumberPlans } from '../../sms/national-numbers.ts'
import { parseVCards } from '../../sms/vcard.ts'
import { encodeSubmit } from '../../sms/codec/pdu.ts'
import { pick, randomText } from '../../testbed/sms-events.ts'
import { smsDevice } from '../../testbed/sms-store.ts'
import { deliverPdus } from '../../testbed/gammu.ts'
import { mutateBytes, mutateJson } from './mutate.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'

let runs = 0
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const phoneBackend: SmsBackend = { uri: 'termux', ready: true, facts: { number: '+15550100002', country: 'US' }, start: async () => {}, stop: async () => {}, send: async () => 'ref' }

/** termux-sms-list answers and +CMGL listings → stored texts → the log; vCard files → contact events → the log. */
export const history: FuzzTarget = {
  name: 'history',
  async run (random, inputs, dir) {
    await loadNumberPlans()
    const phone = await smsDevice(dir, `history-${runs++}`)
    const importer = new HistoryImport({ store: phone.store, backend: phoneBackend, receivers: () => undefined, log: logger('fuzz:history') })
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const termux = Array.from({ length: 20 }, (_, i) => ({ threadid: i, type: pick(random, ['inbox', 'sent', 'draft']), read: random() < 0.5, sender: pick(random, ['Ada', 'You', '']), address: pick(random, ['+15550102030', '(555) 010-2030', 'DHL Express', '12345']), received: '2026-11-23 10:00:00', body: randomText(random, Math.floor(random() * 300)), _id: i + 1 }))
    const cmgl = [...deliverPdus(randomText(random, 400), '+15550102030').map((pdu, i) => `+CMGL: ${i},1,,${pdu.length / 2 - 1}\n${pdu}`), `+CMGL: 9,3,,20\n${encodeSubmit('+15550102031', 'sent before')[0]?.hex ?? ''}`].join('\n')
    const vcard = ['BEGIN:VCARD', 'VERSION:4.0', 'UID:urn:uuid:1', 'FN:Ada Lovelace', 'TEL;VALUE=uri:tel:+1-555-010-1001', 'TEL:(555) 010-1011', 'END:VCARD', 'BEGIN:VCARD', 'VERSION:3.0', 'N:Hopper;Grace;;;', 'item1.TEL:+44 20 7946 0000', 'END:VCARD'].join('\r\n')
    try {
      for (let i = 0; i < inputs; i++) {
        const kind = i % 3
        let texts: StoredSms[] = []
        if (kind === 0) {
          const text = random() < 0.5 ? JSON.stringify(mutateJson(random, termux)) : decoder.decode(mutateBytes(random, encoder.encode(JSON.stringify(termux))))
          try {
            texts = parseList(text).flatMap(e => { const s = e != null && typeof e === 'object' ? storedOf(e) : undefined; return s == null ? [] : [s] })
          } catch (err) {
            if (!(err instanceof SyntaxError || err instanceof HistoryUnavailableError || (err as Error).message === 'termux-sms-list did not print a list')) throw new FuzzFinding(`input ${i}: reading a termux-sms-list answer threw ${(err as Error).name}: ${(err as Error).message}`)
            stats.refused++
            continue
          }
        } else if (kind === 1) {
          const listing = decoder.decode(mutateBytes(random, encoder.encode(cmgl))).split('\n')
          texts = textsOf(parseCmgl(listing), Date.now())
        } else {
          let cards
          try {
            cards = parseVCards(decoder.decode(mutateBytes(random, encoder.encode(vcard))))
          } catch (err) {
            if (!(err instanceof InvalidContactsError)) throw new FuzzFinding(`input ${i}: parseVCards threw ${(err as Error).name}: ${(err as Error).message}`)
            stats.refused++
            continue
          }
          const { events } = contactEvents(phone.store.db, cards.map(c => ({ id: contactId('vcard', c.uid ?? c.name), name: c.name, numbers: c.numbers })), 'US', Date.now())
          try {
            await phone.store.write(tx => { for (const e of events) tx.append(e) })
          } catch (err) {
            throw new FuzzFinding(`input ${i}: contacts of a vCard could not be written (${(err as Error).name}: ${(err as Error).message})`)
          }
          stats.accepted++
          continue
        }
        try {
          await importer.take(texts)
        } catch (err) {
          throw new FuzzFinding(`input ${i}: stored texts could not be taken (${(err as Error).name}: ${(err as Error).message}) from ${JSON.stringify(texts).slice(0, 300)}`)
        }
        if (texts.length === 0) stats.refused++
        else stats.accepted++
      }
    } finally {
      phone.store.close()
    }
    return stats
  }
}

export const HISTORY_TARGETS: FuzzTarget[] = [history]
