import { execFile } from 'node:child_process'
import { logger } from '@libp2p/logger'
import type { SimFacts } from '../../node/identity/records.ts'
import type { BackendHandlers, BackendKind, SmsBackend, SmsHistory, StoredSms } from './backend.ts'
import { HistoryUnavailableError, InvalidSmsError, SmsBackendError } from '../errors.ts'
import { normalizeNumber } from '../codec/numbers.ts'

const log = logger('companion:sms:termux')

/** How often the inbox is read; Termux:API has no notification of new SMS. */
export const TERMUX_POLL_MS = 3_000
/** Store entries read per poll (the newest, of every type: what the phone's own app sent too). */
const POLL_LIMIT = 50
const COMMAND_TIMEOUT_MS = 60_000

/** An entry of `termux-sms-list`; `number` is the older name of `address`. */
export interface ListEntry { _id?: unknown, address?: unknown, number?: unknown, body?: unknown, received?: unknown, type?: unknown, read?: unknown, sender?: unknown }

/** What Termux:API's Google Play build answers instead of the store (Google forbids it reading SMS). */
const GOOGLE_PLAY_REFUSAL = 'Termux:API cannot read SMS here: its Google Play build is not allowed to (Google\'s policy). Install Termux and Termux:API from F-Droid or GitHub to see the phone\'s history; sending still works'

/** The entries of a `termux-sms-list` answer; throws HistoryUnavailableError for the Google Play refusal. */
export function parseList (stdout: string): ListEntry[] {
  const list = JSON.parse(stdout) as unknown
  if (list != null && typeof list === 'object' && !Array.isArray(list) && typeof (list as { error?: unknown }).error === 'string') {
    const said = (list as { error: string }).error
    throw new HistoryUnavailableError(/google/i.test(said) ? GOOGLE_PLAY_REFUSAL : `termux-sms-list says: ${said.slice(0, 160)}`)
  }
  if (!Array.isArray(list)) throw new Error('termux-sms-list did not print a list')
  return list as ListEntry[]
}

/** A received or sent entry as a stored text; drafts, the outbox and failed sends are not texts that went anywhere. */
export function storedOf (e: ListEntry): StoredSms | undefined {
  const party = typeof e.address === 'string' ? e.address : e.number
  if (!Number.isSafeInteger(e._id) || typeof party !== 'string' || typeof e.body !== 'string') return undefined
  if (e.type !== 'inbox' && e.type !== 'sent') return undefined
  const stored: StoredSms = { key: String(e._id), direction: e.type === 'inbox' ? 'in' : 'out', party, body: e.body, at: parseReceived(e.received) }
  if (e.type === 'inbox' && e.read === true) stored.read = true
  // Termux names the sender from the contacts; the phone's own texts it calls "You"
  if (e.type === 'inbox' && typeof e.sender === 'string' && e.sender.trim() !== '') stored.name = e.sender.trim()
  return stored
}

/** Run a Termux:API command; its stdout, or SmsBackendError with what it said. */
async function run (command: string, args: string[]): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err != null) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
        reject(new SmsBackendError(missing ? `${command} not found: install the Termux:API app and run pkg install termux-api` : `${command} failed: ${(stderr || err.message).trim().slice(0, 160)}`, { notSent: missing }))
      } else {
        resolve(stdout)
      }
    })
  })
}

/** `2026-11-23 10:00:00` (the phone's local time) → ms. */
function parseReceived (text: unknown): number {
  const m = typeof text === 'string' ? /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?/.exec(text) : null
  if (m == null) return Date.now()
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)).getTime()
}

/**
 * `termux[?number=+15550100002]`: an Android phone running the daemon under Termux, through
 * Termux:API (`termux-sms-send`, `termux-sms-list`, `termux-contact-list`). Android tells
 * Termux nothing about sent or delivered messages, so statuses stop at `sent`; what comes in,
 * and what the phone's own app sends, is read by polling the store for entries with a higher
 * `_id` than seen; the whole store, page by page, for an import.
 */
export class TermuxBackend implements SmsBackend {
  readonly uri: string
  readonly history: SmsHistory = {
    page: async (offset, limit) => {
      const entries = parseList(await run('termux-sms-list', ['-t', 'all', '-o', String(offset), '-l', String(limit)]))
      // a page comes oldest first; every entry counts for the paging, texts or not
      const page = entries.flatMap(e => { const s = storedOf(e); return s == null ? [] : [s] })
      page.sort((a, b) => b.at - a.at || Number(b.key) - Number(a.key))
      return { entries: page, end: entries.length < limit }
    },
    contacts: async () => {
      const list = JSON.parse(await run('termux-contact-list', [])) as unknown
      if (!Array.isArray(list)) throw new HistoryUnavailableError('termux-contact-list did not print a list (is the Contacts permission granted to Termux:API?)')
      return (list as Array<{ name?: unknown, number?: unknown }>).flatMap(c => typeof c.name === 'string' && typeof c.number === 'string' ? [{ name: c.name, numbers: [c.number] }] : [])
    }
  }

  private readonly handlers: BackendHandlers
  private readonly number?: string
  private sim: SimFacts = {}
  private lastId = 0
  private timer?: ReturnType<typeof setTimeout>
  private stopped = false
  private isReady = false
  private sent = 0

  constructor (uri: string, handlers: BackendHandlers) {
    this.uri = uri
    this.handlers = handlers
    // read the query by hand: URLSearchParams would turn the + of a number into a space
    const number = /^termux\?number=([^&]*)$/.exec(uri)?.[1]
    if (uri !== 'termux' && number == null) throw new InvalidSmsError(`"${uri}" is not termux or termux?number=+NUMBER`)
    if (number != null) this.number = normalizeNumber(decodeURIComponent(number))
  }

  get ready (): boolean {
    return this.isReady
  }

  get facts (): SimFacts {
    return { ...this.sim, ...(this.number == null ? {} : { number: this.number }) }
  }

  async start (): Promise<void> {
    // the SIM's country first: the store writes numbers in the national form, read in its plan
    void this.readDeviceInfo().then(async () => { await this.poll() })
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
  }

  async send (to: string, body: string): Promise<string> {
    // `--`: a text that starts with a dash (`-h`, `-n+1900…`) is never read as an option
    await run('termux-sms-send', ['-n', to, '--', body])
    this.sent++
    return `termux-${Date.now()}-${this.sent}`
  }

  /** Operator, country and roaming, when `termux-telephony-deviceinfo` tells them. */
  private async readDeviceInfo (): Promise<void> {
    try {
      const info = JSON.parse(await run('termux-telephony-deviceinfo', [])) as Record<string, unknown>
      const sim: SimFacts = {}
      if (typeof info.network_operator_name === 'string' && info.network_operator_name !== '') sim.carrier = info.network_operator_name.slice(0, 64)
      if (typeof info.sim_country_iso === 'string' && /^[a-z]{2}$/i.test(info.sim_country_iso)) sim.country = info.sim_country_iso.toUpperCase()
      if (typeof info.network_roaming === 'boolean') sim.roaming = info.network_roaming
      this.sim = sim
      this.handlers.changed()
    } catch (err) {
      log('no device info - %s', (err as Error).message)
    }
  }

  /**
   * Read the newest entries of the store, every type: what came in, and what the phone's own
   * app sent. Entries with a higher `_id` than seen go to the log (stored before seen).
   */
  private async poll (): Promise<void> {
    if (this.stopped) return
    try {
      const fresh = parseList(await run('termux-sms-list', ['-t', 'all', '-l', String(POLL_LIMIT)]))
        .filter(e => Number.isSafeInteger(e._id) && (e._id as number) > this.lastId)
        .sort((a, b) => (a._id as number) - (b._id as number))
      await this.handlers.stored(fresh.flatMap(e => { const s = storedOf(e); return s == null ? [] : [s] }))
      for (const e of fresh) this.lastId = Math.max(this.lastId, e._id as number)
      this.setReady(true)
    } catch (err) {
      if (err instanceof HistoryUnavailableError) {
        // sending works without reading; reading will not start working by asking again
        log.error('%s', err.message)
        this.setReady(true)
        return
      }
      log.error('reading the phone\'s texts failed - %s', (err as Error).message)
      this.setReady(false)
    }
    if (!this.stopped) this.timer = setTimeout(() => { void this.poll() }, TERMUX_POLL_MS)
  }

  private setReady (ready: boolean): void {
    if (this.isReady === ready) return
    this.isReady = ready
    this.handlers.changed()
  }
}

export const termuxBackend: BackendKind = {
  schemes: ['termux'],
  usage: 'termux[?number=+NUMBER]',
  summary: 'Android through Termux:API',
  create: (uri, handlers) => new TermuxBackend(uri, handlers)
}
