/**
 * sms-history: a Termux phone (the Termux:API stand-ins) whose store holds 50,000 texts in
 * 500 conversations, 300 of them contacts. The phone imports its store when the backend is
 * first attached, alone; a laptop pairs afterwards and replicates. Measured: texts per second
 * from the import's start until all are on the laptop (pairing itself left out), how long
 * after pairing the laptop shows the newest 50 conversations, and on the laptop with all
 * 50,000: `GET /v1/sms/conversations` and a word search, p99 over repeated requests.
 * Baselines from the same run: durable SQLite inserts (one transaction each, as sms-burst)
 * for the rate, `GET /v1/status` (the control API's floor) for the latencies.
 */
import { join } from 'node:path'
import { Device, until } from '../testbed/device.ts'
import { tempDir } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { percentile } from '../testbed/channels.ts'
import { TermuxPhoneStore, termuxTime, type TermuxEntry } from '../testbed/termux.ts'
import type { ConversationView } from '../sms/view-types.ts'
import { durableInserts } from './sms-burst.ts'
import { row, type BenchRow } from './results.ts'

export const HISTORY_TEXTS = 50_000
const CONVERSATIONS = 500
const CONTACTS = 300
const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']
const REQUESTS = 200

/** Words texts are made of; a search looks for one of the rarer ones. */
const WORDS = 'the a to and of you I it is in that for on be at this have with we are not but can do your was so if me just will what get all my up out there when about know like time now one see go how day back home tonight later tomorrow morning dinner lunch coffee train bus car late soon yes no ok thanks sure maybe call meet office work school party weekend friday monday sunday birthday present flight hotel airport ticket doctor dentist appointment meeting project report deadline invoice parcel delivery code password bank card payment rent keys door window garden dog cat kids mum dad sister brother'.split(' ')

/** `count` texts in `conversations` threads, newest last, a minute apart, every thread alternating in and out. */
export function syntheticStore (count: number, conversations: number): TermuxEntry[] {
  const start = Date.now() - count * 60_000
  let seed = 42
  const random = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff }
  return Array.from({ length: count }, (_, i) => {
    const thread = i % conversations
    const words = Array.from({ length: 4 + Math.floor(random() * 16) }, () => WORDS[Math.floor(random() ** 2 * WORDS.length)] ?? 'hi')
    return { _id: i + 1, threadid: thread + 1, type: Math.floor(i / conversations) % 2 === 0 ? 'inbox' : 'sent', read: true, number: `+1555020${String(thread).padStart(4, '0')}`, body: words.join(' '), received: termuxTime(start + i * 60_000) }
  })
}

async function p99Of (request: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now()
    await request()
    times.push(performance.now() - t)
  }
  return percentile(times, 0.99)
}

export async function smsHistory (): Promise<BenchRow[]> {
  const tmp = tempDir()
  const devices: Device[] = []
  try {
    const store = new TermuxPhoneStore(join(tmp.path, 'termux'))
    store.write(syntheticStore(HISTORY_TEXTS, CONVERSATIONS))
    store.contacts(Array.from({ length: CONTACTS }, (_, i) => ({ name: `Friend ${i}`, number: `+1555020${String(i).padStart(4, '0')}` })))
    const phone = new Device({ dataDir: join(tmp.path, 'phone'), name: 'phone', args: [...LOOPBACK, '--kind', 'phone', '--sms', 'termux?number=+15550100002'], env: store.env() })
    devices.push(phone)
    const started = performance.now()
    await phone.start()
    const count = async (d: Device): Promise<number> => (await d.api.call<ConversationView[]>('GET', '/v1/sms/conversations')).reduce((n, c) => n + c.messages, 0)
    await until('the phone imported its store', 600_000, async () => await count(phone) >= HISTORY_TEXTS, 250)
    const imported = performance.now()
    const bootstrap = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
    const laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'laptop', args: [...LOOPBACK, '--bootstrap', bootstrap] })
    devices.push(laptop)
    await laptop.start()
    await pair(laptop, phone)
    const paired = performance.now()
    // the newest 50 conversations as the phone shows them, readable (named, with their last text) on the laptop
    const newest = (await phone.api.call<ConversationView[]>('GET', '/v1/sms/conversations')).slice(0, 50).map(c => `${c.conversation} ${c.last.id} ${c.name ?? ''}`)
    let readableAt = 0
    await until('all texts on the laptop', 600_000, async () => {
      const list = await laptop.api.call<ConversationView[]>('GET', '/v1/sms/conversations')
      if (readableAt === 0) {
        const shown = new Set(list.map(c => `${c.conversation} ${c.last.id} ${c.name ?? ''}`))
        if (newest.every(c => shown.has(c))) readableAt = performance.now()
      }
      return list.reduce((n, c) => n + c.messages, 0) >= HISTORY_TEXTS
    }, 100)
    const replicated = performance.now()
    const seconds = ((imported - started) + (replicated - paired)) / 1000
    const rate = HISTORY_TEXTS / seconds
    const baseline = durableInserts(tmp.path, 2_000)
    process.stderr.write(`sms-history: phone import ${((imported - started) / 1000).toFixed(1)} s (daemon start included), laptop has all ${((replicated - paired) / 1000).toFixed(1)} s after pairing, newest 50 conversations after ${((readableAt - paired) / 1000).toFixed(2)} s; baseline ${baseline.toFixed(0)} durable inserts/s\n`)
    const floor = await p99Of(async () => await laptop.api.call('GET', '/v1/status'))
    const conversations = await p99Of(async () => await laptop.api.call('GET', '/v1/sms/conversations'))
    let word = 0
    // rare words, and one no text holds (the whole store is read for it)
    const rare = [...WORDS.slice(-19), 'zebra']
    const search = await p99Of(async () => await laptop.api.call('GET', `/v1/sms?search=${rare[word++ % rare.length] ?? 'dog'}&limit=100`))
    return [
      row('sms-history-import', 'msg/s', rate, baseline, '>= 0.2x durable inserts', rate >= 0.2 * baseline),
      row('sms-history-newest-50', 'ms', readableAt - paired, 3_000, '<= 3000 ms after pairing', readableAt - paired <= 3_000),
      row('sms-conversations-50k', 'ms', conversations, floor, 'p99 <= 50 ms', conversations <= 50),
      row('sms-search-50k', 'ms', search, floor, 'p99 <= 100 ms', search <= 100)
    ]
  } finally {
    await Promise.allSettled(devices.map(async d => await d.stop()))
    tmp.cleanup()
  }
}
