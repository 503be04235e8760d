import { execFile } from 'node:child_process'
import { logger } from '@libp2p/logger'
import type { SimFacts } from '../../node/identity/records.ts'
import type { BackendHandlers, BackendKind, SmsBackend } from './backend.ts'
import { InvalidSmsError, SmsBackendError } from '../errors.ts'
import { normalizeNumber } from '../codec/numbers.ts'

const log = logger('companion:sms:termux')

/** How often the inbox is read; Termux:API has no notification of new SMS. */
export const TERMUX_POLL_MS = 3_000
/** Inbox entries read per poll (the newest). */
const POLL_LIMIT = 50
const COMMAND_TIMEOUT_MS = 20_000

interface InboxEntry { _id?: unknown, number?: unknown, body?: unknown, received?: unknown, type?: unknown }

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
 * Termux:API (`termux-sms-send`, `termux-sms-list`). Android tells Termux nothing about sent
 * or delivered messages, so statuses stop at `sent`; incoming SMS are read by polling the
 * inbox for entries with a higher `_id` than seen.
 */
export class TermuxBackend implements SmsBackend {
  readonly uri: string
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
    void this.readDeviceInfo()
    void this.poll()
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

  private async poll (): Promise<void> {
    if (this.stopped) return
    try {
      const list = JSON.parse(await run('termux-sms-list', ['-t', 'inbox', '-l', String(POLL_LIMIT)])) as unknown
      if (!Array.isArray(list)) throw new Error('termux-sms-list did not print a list')
      const fresh = (list as InboxEntry[])
        .filter(e => Number.isSafeInteger(e._id) && (e._id as number) > this.lastId && typeof e.number === 'string' && typeof e.body === 'string')
        .sort((a, b) => (a._id as number) - (b._id as number))
      for (const entry of fresh) {
        // stored (the id is derived from it, so reading it again after a restart adds nothing), then seen
        await this.handlers.incoming({ from: entry.number as string, body: entry.body as string, at: parseReceived(entry.received) })
        this.lastId = entry._id as number
      }
      if (!this.isReady) {
        this.isReady = true
        this.handlers.changed()
      }
    } catch (err) {
      log.error('reading the inbox failed - %s', (err as Error).message)
      if (this.isReady) {
        this.isReady = false
        this.handlers.changed()
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => { void this.poll() }, TERMUX_POLL_MS)
  }
}

export const termuxBackend: BackendKind = {
  schemes: ['termux'],
  usage: 'termux[?number=+NUMBER]',
  summary: 'Android through Termux:API',
  create: (uri, handlers) => new TermuxBackend(uri, handlers)
}
