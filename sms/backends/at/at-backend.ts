import { randomInt } from 'node:crypto'
import { listedHistory } from '../listed-history.ts'
import { logger } from '@libp2p/logger'
import type { SimFacts } from '../../../node/identity/records.ts'
import type { BackendHandlers, BackendKind, SmsBackend, SmsHistory, StoredSms } from '../backend.ts'
import { HistoryUnavailableError, InvalidSmsError, SmsBackendError } from '../../errors.ts'
import { decodePdu, encodeSubmit, type DecodedPdu, type StatusReportPdu } from '../../codec/pdu.ts'
import { Reassembler, type Reassembled } from '../../codec/reassembly.ts'
import { Backoff } from '../../backoff.ts'
import { AtPort, type AtTransport, type Unsolicited } from './at-commands.ts'
import { AtCommandError, cmsNotSent, cmsReason } from './errors.ts'
import { openSerial, openTcp } from './transport.ts'
import { listStorages, StorageLock } from './at-history.ts'

const log = logger('companion:sms:at')

const COMMAND_TIMEOUT_MS = 10_000
/** Sending (and listing the SIM) waits for the network: give it longer. */
const SEND_TIMEOUT_FACTOR = 6
const REOPEN_MIN_MS = 1_000
const REOPEN_MAX_MS = 30_000
const SIGNAL_POLL_MS = 60_000

/** `+CSQ` rssi (0–31, 99 unknown) → 0–4 bars. */
function bars (rssi: number): number | undefined {
  if (rssi === 99 || !Number.isInteger(rssi)) return undefined
  return rssi === 0 ? 0 : rssi < 10 ? 1 : rssi < 15 ? 2 : rssi < 20 ? 3 : 4
}

type Target = ({ kind: 'tcp', host: string, port: number } | { kind: 'serial', path: string, baud: number }) & { timeoutMs: number }

function parseTarget (uri: string): Target {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new InvalidSmsError(`"${uri}" is not at:///dev/ttyX[?baud=N] or at+tcp://HOST:PORT`)
  }
  // how long a modem may take to answer a command (sending may take six times that)
  const timeoutMs = Number(url.searchParams.get('timeout') ?? COMMAND_TIMEOUT_MS)
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new InvalidSmsError(`bad timeout in "${uri}" (milliseconds)`)
  if (url.protocol === 'at+tcp:') {
    const port = Number(url.port)
    if (url.hostname === '' || !Number.isInteger(port) || port < 1) throw new InvalidSmsError(`"${uri}" needs a host and a port`)
    return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port, timeoutMs }
  }
  if (url.protocol === 'at:' && url.pathname.startsWith('/')) {
    const baud = Number(url.searchParams.get('baud') ?? 115200)
    if (!Number.isInteger(baud) || baud < 300) throw new InvalidSmsError(`bad baud rate in "${uri}"`)
    return { kind: 'serial', path: decodeURIComponent(url.pathname), baud, timeoutMs }
  }
  throw new InvalidSmsError(`"${uri}" is not at:///dev/ttyX[?baud=N] or at+tcp://HOST:PORT`)
}

/**
 * An AT-command modem in PDU mode (3GPP TS 27.005): `+CMGS` to send (delivery reports
 * requested), `+CMTI` → `+CMGR` → store → `+CMGD` for incoming texts, `+CDS` for delivery
 * reports. A modem that stops answering is closed and opened again. The history is what its
 * storages (SIM and phone, `+CPMS`) hold: received texts, and sent ones stored there.
 */
export class AtBackend implements SmsBackend {
  readonly uri: string
  private readonly target: Target
  private readonly handlers: BackendHandlers
  private readonly port: AtPort
  private readonly reassembler: Reassembler
  private transport?: AtTransport
  private isReady = false
  private stopped = false
  private readonly reopenDelay = new Backoff(REOPEN_MIN_MS, REOPEN_MAX_MS)
  private reopenTimer?: ReturnType<typeof setTimeout>
  private signalTimer?: ReturnType<typeof setInterval>
  private rereadTimer?: ReturnType<typeof setTimeout>
  private readonly rereadDelay = new Backoff(REOPEN_MIN_MS, REOPEN_MAX_MS)
  private sim: SimFacts = {}
  /** Message reference of each part sent → the reference of the whole message. */
  private readonly parts = new Map<number, string>()
  private readonly waitingReports = new Map<string, Set<number>>()
  private readonly storage = new StorageLock()
  readonly history: SmsHistory = listedHistory(async () => {
    if (!this.isReady) throw new HistoryUnavailableError('the modem is not ready; try again when it is')
    return await this.storage.run(async () => await listStorages(async (command) => await this.at(command, this.target.timeoutMs * SEND_TIMEOUT_FACTOR)))
  })

  constructor (uri: string, handlers: BackendHandlers) {
    this.uri = uri
    this.handlers = handlers
    this.target = parseTarget(uri)
    this.port = new AtPort((urc) => { void this.unsolicited(urc) })
    this.reassembler = new Reassembler((m) => { void this.deliver(m) }, {
      // a part the modem gave twice, after its message was stored: only delete it
      duplicate: (tag) => { if (typeof tag === 'number') void this.storageCommand(`AT+CMGD=${tag}`).catch(() => {}) }
    })
  }

  get ready (): boolean {
    return this.isReady
  }

  get facts (): SimFacts {
    return this.sim
  }

  async start (): Promise<void> {
    void this.open()
    this.signalTimer = setInterval(() => { if (this.isReady) void this.readSignal() }, SIGNAL_POLL_MS)
    this.signalTimer.unref()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.reopenTimer)
    clearTimeout(this.rereadTimer)
    clearInterval(this.signalTimer)
    this.transport?.close()
    this.port.detach('this device is shutting down')
  }

  private async open (): Promise<void> {
    if (this.stopped) return
    try {
      const events = { data: (d: string) => { this.port.receive(d) }, close: (why: string) => { this.closed(why) } }
      this.transport = this.target.kind === 'tcp'
        ? await openTcp(this.target.host, this.target.port, events)
        : await openSerial(this.target.path, this.target.baud, events)
      this.port.attach(this.transport)
      await this.init()
      this.reopenDelay.reset()
      this.isReady = true
      this.handlers.changed()
      await this.readStored()
    } catch (err) {
      log.error('the modem at %s is not usable - %s', this.uri, (err as Error).message)
      this.reopen()
    }
  }

  /** The modem is gone or stuck: close it and try again, with backoff. */
  private reopen (): void {
    const transport = this.transport
    this.transport = undefined
    transport?.close()
    this.port.detach('the modem connection was reset')
    if (this.isReady) {
      this.isReady = false
      this.handlers.changed()
    }
    if (this.stopped) return
    clearTimeout(this.reopenTimer)
    this.reopenTimer = setTimeout(() => { void this.open() }, this.reopenDelay.next())
  }

  private closed (why: string): void {
    log('modem closed - %s', why)
    if (this.transport != null) this.reopen()
  }

  private async at (command: string, timeoutMs = this.target.timeoutMs, payload?: string): Promise<string[]> {
    try {
      return await this.port.command(command, timeoutMs, payload)
    } catch (err) {
      if (err instanceof AtCommandError && err.kind === 'timeout') this.reopen()
      throw err
    }
  }

  /** A command on the chosen storage, never while a listing has another one chosen. */
  private async storageCommand (command: string, timeoutMs = this.target.timeoutMs): Promise<string[]> {
    return await this.storage.run(async () => await this.at(command, timeoutMs))
  }

  private async init (): Promise<void> {
    await this.at('ATE0')
    await this.at('AT+CMEE=1').catch(() => {})
    const pin = (await this.at('AT+CPIN?')).find(l => l.startsWith('+CPIN:')) ?? '+CPIN: READY'
    if (!/READY/.test(pin)) throw new Error(`the SIM is locked (${pin.slice(6).trim()}): unlock it first, e.g. with AT+CPIN=<pin>`)
    await this.at('AT+CMGF=0')
    // new messages: +CMTI with the storage index; delivery reports: +CDS with the PDU
    await this.at('AT+CNMI=2,1,0,1,0')
    const cnum = (await this.at('AT+CNUM').catch(() => [])).find(l => l.startsWith('+CNUM:'))
    const number = /"(\+?\d{6,15})"/.exec(cnum ?? '')?.[1]
    const cops = (await this.at('AT+COPS?').catch(() => [])).find(l => l.startsWith('+COPS:'))
    const operator = /"([^"]{1,64})"/.exec(cops ?? '')?.[1]
    this.sim = { ...(number == null ? {} : { number: number.startsWith('+') ? number : `+${number}` }), ...(operator == null ? {} : { carrier: operator }) }
    await this.readSignal()
  }

  private async readSignal (): Promise<void> {
    const csq = (await this.at('AT+CSQ').catch(() => [])).find(l => l.startsWith('+CSQ:'))
    const signal = bars(Number(/\+CSQ: *(\d+)/.exec(csq ?? '')?.[1]))
    if (signal !== this.sim.signal && signal != null) {
      this.sim = { ...this.sim, signal }
      this.handlers.changed()
    }
  }

  async send (to: string, body: string): Promise<string> {
    if (!this.isReady) throw new SmsBackendError('the modem is not ready', { notSent: true })
    const pdus = encodeSubmit(to, body, { statusReport: true, concatRef: randomInt(256) })
    const references: number[] = []
    for (const pdu of pdus) {
      try {
        const lines = await this.at(`AT+CMGS=${pdu.tpduLength}`, this.target.timeoutMs * SEND_TIMEOUT_FACTOR, pdu.hex)
        const mr = Number(/\+CMGS: *(\d+)/.exec(lines.find(l => l.startsWith('+CMGS:')) ?? '')?.[1])
        references.push(Number.isInteger(mr) ? mr : -1)
      } catch (err) {
        const e = err as AtCommandError
        // a refusal before any part left is a clean failure; anything else may have gone out
        const clean = references.length === 0
        if (e.kind === 'cms' && e.code != null) throw new SmsBackendError(cmsReason(e.code), { notSent: clean && cmsNotSent(e.code) })
        if (e.kind === 'closed' && clean && e.message === 'the modem is not connected') throw new SmsBackendError('the modem is not connected', { notSent: true })
        throw new SmsBackendError(`outcome unknown: ${e.message}`)
      }
    }
    const ref = `mr:${references.join(',')}`
    this.waitingReports.set(ref, new Set(references))
    for (const mr of references) this.parts.set(mr, ref)
    return ref
  }

  private async unsolicited (urc: Unsolicited): Promise<void> {
    try {
      const stored = /^\+CMTI: *"?(\w*)"?, *(\d+)/.exec(urc.line)
      if (stored != null) {
        await this.readIndex(Number(stored[2]))
      } else if (urc.pdu != null && urc.line.startsWith('+CDS:')) {
        await this.handle(decodePdu(urc.pdu), undefined)
      } else if (urc.pdu != null && urc.line.startsWith('+CMT:')) {
        await this.handle(decodePdu(urc.pdu), undefined)
      }
    } catch (err) {
      log.error('could not take %s from the modem - %s', urc.line.slice(0, 30), (err as Error).message)
    }
  }

  /** Everything the SIM holds from before (or from while we were away). */
  private async readStored (): Promise<void> {
    const lines = await this.storageCommand('AT+CMGL=4', this.target.timeoutMs * SEND_TIMEOUT_FACTOR)
    for (let i = 0; i < lines.length; i++) {
      const head = /^\+CMGL: *(\d+)/.exec(lines[i] ?? '')
      const pdu = lines[i + 1]
      if (head == null || pdu == null) continue
      i++
      try {
        await this.handle(decodePdu(pdu), Number(head[1]))
      } catch (err) {
        log.error('stored message %s does not decode - %s', head[1], (err as Error).message)
      }
    }
  }

  private async readIndex (index: number): Promise<void> {
    const lines = await this.storageCommand(`AT+CMGR=${index}`)
    const at = lines.findIndex(l => l.startsWith('+CMGR:'))
    const pdu = lines[at + 1]
    if (at < 0 || pdu == null) return
    await this.handle(decodePdu(pdu), index)
  }

  private async handle (pdu: DecodedPdu, index: number | undefined): Promise<void> {
    if (pdu.type === 'status-report') {
      await this.report(pdu)
      if (index != null) await this.storageCommand(`AT+CMGD=${index}`).catch(() => {})
      return
    }
    if (pdu.type !== 'deliver') return
    this.reassembler.add({ from: pdu.from, text: pdu.text, timestamp: pdu.timestamp, ...(pdu.concat == null ? {} : { concat: pdu.concat }), tag: index })
  }

  /** A whole message: stored, then deleted from the SIM (never the other way round). */
  private async deliver (message: Reassembled): Promise<void> {
    try {
      const body = message.incomplete ? `${message.text} [incomplete: part ${message.missing.join(', ')} never arrived]` : message.text
      await this.handlers.incoming({ from: message.from, body, at: message.timestamp })
    } catch (err) {
      // its parts stay on the SIM; read them all again in a while
      log.error('could not store a message from %s, its parts stay on the SIM - %s', message.from, (err as Error).message)
      this.reassembler.forget(message)
      this.rereadLater()
      return
    }
    this.rereadDelay.reset()
    for (const tag of message.tags) if (typeof tag === 'number') await this.storageCommand(`AT+CMGD=${tag}`).catch(() => {})
  }

  /** Read the SIM's messages again after a failure to store one, with backoff. */
  private rereadLater (): void {
    if (this.stopped || this.rereadTimer != null) return
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = undefined
      if (this.isReady) void this.readStored().catch(err => { log.error('could not read the SIM again - %s', (err as Error).message) })
    }, this.rereadDelay.next())
    this.rereadTimer.unref()
  }

  private async report (sr: StatusReportPdu): Promise<void> {
    if (!sr.final) return
    const ref = this.parts.get(sr.reference)
    if (ref == null) return
    const waiting = this.waitingReports.get(ref)
    this.parts.delete(sr.reference)
    if (!sr.delivered) {
      this.waitingReports.delete(ref)
      await this.handlers.report({ ref, delivered: false, reason: `the network could not deliver it (status 0x${sr.status.toString(16)})`, at: sr.dischargedAt })
      return
    }
    waiting?.delete(sr.reference)
    if (waiting == null || waiting.size === 0) {
      this.waitingReports.delete(ref)
      await this.handlers.report({ ref, delivered: true, at: sr.dischargedAt })
    }
  }
}

export const atBackend: BackendKind = {
  schemes: ['at', 'at+tcp'],
  usage: 'at:///dev/ttyX[?baud=N] or at+tcp://HOST:PORT',
  summary: 'an AT-command modem, serial or TCP',
  create: (uri, handlers) => new AtBackend(uri, handlers)
}
