import { logger } from '@libp2p/logger'
import { listedHistory } from './listed-history.ts'
import type { SimFacts } from '../../node/identity/records.ts'
import { createHash } from 'node:crypto'
import type { BackendHandlers, BackendKind, SmsBackend, SmsHistory, StoredSms } from './backend.ts'
import { HistoryUnavailableError, InvalidSmsError, SmsBackendError } from '../errors.ts'

const log = logger('companion:sms:mm')

const MM = 'org.freedesktop.ModemManager1'
const MM_PATH = '/org/freedesktop/ModemManager1'
/** Sms.State and Sms.PduType values (ModemManager's MMSmsState, MMSmsPduType). */
const STATE_RECEIVED = 3
const STATE_SENT = 5
const PDU_DELIVER = 1
const PDU_SUBMIT = 2
const PDU_STATUS_REPORT = 3
/** MMSmsDeliveryState: below 0x20 delivered, 0x20–0x3f still trying, 0x100 unknown. */
const DELIVERY_TEMPORARY = 0x20
const DELIVERY_UNKNOWN = 0x100
/** Besides the Added signal, the message list is read now and then (a signal can be missed). */
const LIST_POLL_MS = 5_000

interface Variant { value: unknown }
interface DbusInterface {
  [method: string]: unknown
  on(event: string, listener: (...args: unknown[]) => void): void
}
interface ProxyObject { getInterface(name: string): DbusInterface }
interface MessageBus {
  getProxyObject(name: string, path: string): Promise<ProxyObject>
  disconnect(): void
  on(event: string, listener: (err: Error) => void): void
}

type Call = (...args: unknown[]) => Promise<unknown>

/**
 * `mmcli[:MODEM]`: a modem ModemManager owns, over D-Bus (the system bus; the address in
 * DBUS_SYSTEM_BUS_ADDRESS when set). Messaging.Create + Sms.Send to send (delivery report
 * requested), Messaging.Added for received texts (State received, then deleted once stored)
 * and for status reports, matched to the message by its reference. The history is what
 * Messaging.List holds: received texts, and texts other programs sent on this modem.
 */
export class ModemManagerBackend implements SmsBackend {
  readonly uri: string
  private readonly handlers: BackendHandlers
  private readonly modemIndex?: string
  private bus?: MessageBus
  private messaging?: DbusInterface
  private modemPath?: string
  private isReady = false
  private stopped = false
  private sim: SimFacts = {}
  private timer?: ReturnType<typeof setTimeout>
  private readonly sentByReference = new Map<number, string>()
  private readonly handled = new Set<string>()
  readonly history: SmsHistory = listedHistory(async () => await this.storedTexts())

  constructor (uri: string, handlers: BackendHandlers) {
    this.uri = uri
    this.handlers = handlers
    const m = /^mmcli(?::(\d+))?$/.exec(uri)
    if (m == null) throw new InvalidSmsError(`"${uri}" is not mmcli or mmcli:MODEM (the modem's index, see mmcli -L)`)
    if (m[1] != null) this.modemIndex = m[1]
  }

  get ready (): boolean {
    return this.isReady
  }

  get facts (): SimFacts {
    return this.sim
  }

  async start (): Promise<void> {
    void this.connect()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.bus?.disconnect()
  }

  private async connect (): Promise<void> {
    if (this.stopped) return
    try {
      const dbus = (await import('dbus-next')).default as unknown as { systemBus(): MessageBus }
      const bus = dbus.systemBus()
      this.bus = bus
      bus.on('error', (err) => { log.error('D-Bus - %s', err.message) })
      const manager = (await bus.getProxyObject(MM, MM_PATH)).getInterface('org.freedesktop.DBus.ObjectManager')
      const objects = await (manager.GetManagedObjects as Call)() as Record<string, Record<string, Record<string, Variant>>>
      const modems = Object.keys(objects).filter(p => objects[p]?.[`${MM}.Modem.Messaging`] != null).sort()
      const path = this.modemIndex == null ? modems[0] : modems.find(p => p.endsWith(`/Modem/${this.modemIndex ?? ''}`))
      if (path == null) throw new Error(this.modemIndex == null ? 'ModemManager has no modem that can text' : `ModemManager has no modem ${this.modemIndex} (see mmcli -L)`)
      this.modemPath = path
      const modem = await bus.getProxyObject(MM, path)
      this.messaging = modem.getInterface(`${MM}.Modem.Messaging`)
      this.messaging.on('Added', (smsPath: unknown) => { void this.look(String(smsPath)) })
      await this.readFacts(modem)
      this.isReady = true
      this.handlers.changed()
      await this.poll()
    } catch (err) {
      log.error('ModemManager is not usable - %s', (err as Error).message)
      this.bus?.disconnect()
      this.bus = undefined
      if (this.isReady) {
        this.isReady = false
        this.handlers.changed()
      }
      if (!this.stopped) this.timer = setTimeout(() => { void this.connect() }, LIST_POLL_MS)
    }
  }

  private async readFacts (modem: ProxyObject): Promise<void> {
    const props = modem.getInterface('org.freedesktop.DBus.Properties')
    const get = async (iface: string, name: string): Promise<unknown> => ((await (props.Get as Call)(iface, name).catch(() => undefined)) as Variant | undefined)?.value
    const numbers = await get(`${MM}.Modem`, 'OwnNumbers') as string[] | undefined
    const quality = await get(`${MM}.Modem`, 'SignalQuality') as [number, boolean] | undefined
    const operator = await get(`${MM}.Modem.Modem3gpp`, 'OperatorName') as string | undefined
    const registration = await get(`${MM}.Modem.Modem3gpp`, 'RegistrationState') as number | undefined
    const number = numbers?.find(n => /^\+?\d{6,15}$/.test(n))
    this.sim = {
      ...(number == null ? {} : { number: number.startsWith('+') ? number : `+${number}` }),
      ...(typeof operator === 'string' && operator !== '' ? { carrier: operator.slice(0, 64) } : {}),
      ...(quality == null ? {} : { signal: Math.min(4, Math.round(quality[0] / 25)) }),
      // MMModem3gppRegistrationState 5: roaming
      ...(registration == null ? {} : { roaming: registration === 5 })
    }
  }

  async send (to: string, body: string): Promise<string> {
    const bus = this.bus
    const messaging = this.messaging
    if (bus == null || messaging == null || !this.isReady) throw new SmsBackendError('ModemManager is not reachable', { notSent: true })
    const dbus = (await import('dbus-next')).default
    let smsPath: string
    try {
      const props = { number: new dbus.Variant('s', to), text: new dbus.Variant('s', body), 'delivery-report-request': new dbus.Variant('b', true) }
      smsPath = String(await (messaging.Create as Call)(props))
    } catch (err) {
      throw new SmsBackendError(`ModemManager could not create the message: ${(err as Error).message}`, { notSent: true })
    }
    const sms = await bus.getProxyObject(MM, smsPath)
    try {
      await (sms.getInterface(`${MM}.Sms`).Send as Call)()
      const reference = Number(((await (sms.getInterface('org.freedesktop.DBus.Properties').Get as Call)(`${MM}.Sms`, 'MessageReference').catch(() => undefined)) as Variant | undefined)?.value)
      if (Number.isInteger(reference)) this.sentByReference.set(reference, smsPath)
      return smsPath
    } catch (err) {
      throw new SmsBackendError(`the modem could not send it: ${(err as Error).message}`)
    } finally {
      // the sent copy is ours to forget; the status report comes as its own object
      void (messaging.Delete as Call)(smsPath).catch(() => {})
    }
  }

  private async poll (): Promise<void> {
    if (this.stopped || this.messaging == null) return
    try {
      for (const path of await (this.messaging.List as Call)() as string[]) await this.look(path)
    } catch (err) {
      log('listing messages failed - %s', (err as Error).message)
    }
    this.timer = setTimeout(() => { void this.poll() }, LIST_POLL_MS)
  }

  /** A message object's properties. */
  private async properties (path: string): Promise<(name: string) => unknown> {
    if (this.bus == null) throw new Error('ModemManager is not reachable')
    const props = (await this.bus.getProxyObject(MM, path)).getInterface('org.freedesktop.DBus.Properties')
    const all = await (props.GetAll as Call)(`${MM}.Sms`) as Record<string, Variant>
    return (name: string): unknown => all[name]?.value
  }

  /**
   * A text the modem holds as a stored entry: received, or sent (by another program on this
   * modem: ours are deleted once sent). ModemManager's object paths are new after each of its
   * restarts, so the key is the text's own content.
   */
  private storedText (path: string, value: (name: string) => unknown): StoredSms | undefined {
    const state = value('State')
    const type = value('PduType')
    const number = String(value('Number') ?? '')
    const text = String(value('Text') ?? '')
    const timestamp = Date.parse(String(value('Timestamp') ?? ''))
    const key = createHash('sha256').update(`${String(state)}\n${number}\n${text}\n${String(value('Timestamp') ?? '')}`).digest('hex').slice(0, 32)
    if (state === STATE_RECEIVED && type === PDU_DELIVER) return { key, direction: 'in', party: number, body: text, at: Number.isFinite(timestamp) ? timestamp : Date.now() }
    if (state === STATE_SENT && type === PDU_SUBMIT) return { key, direction: 'out', party: number, body: text, at: Number.isFinite(timestamp) ? timestamp : Date.now(), ref: path }
    return undefined
  }

  /** Every text the modem holds, newest first. */
  private async storedTexts (): Promise<StoredSms[]> {
    if (this.messaging == null) throw new HistoryUnavailableError('ModemManager is not reachable now; try again when the modem is back')
    const texts: StoredSms[] = []
    for (const path of await (this.messaging.List as Call)() as string[]) {
      const text = this.storedText(path, await this.properties(path).catch(() => () => undefined))
      if (text != null) texts.push(text)
    }
    return texts.sort((a, b) => b.at - a.at)
  }

  /** A message object: a received text to store, a text another program sent, or a delivery report. */
  private async look (path: string): Promise<void> {
    if (this.handled.has(path) || this.bus == null || this.messaging == null) return
    try {
      const value = await this.properties(path)
      if (value('State') === STATE_SENT && value('PduType') === PDU_SUBMIT) {
        // sent by another program on this modem (ours are matched by their path): shown, and left to that program
        const text = this.storedText(path, value)
        this.handled.add(path)
        if (text != null) await this.handlers.stored([text])
        return
      }
      if (value('State') !== STATE_RECEIVED) return
      if (value('PduType') === PDU_STATUS_REPORT) {
        this.handled.add(path)
        const delivery = Number(value('DeliveryState'))
        const ref = this.sentByReference.get(Number(value('MessageReference')))
        if (ref != null && delivery < DELIVERY_TEMPORARY) await this.handlers.report({ ref, delivered: true, at: Date.now() })
        else if (ref != null && delivery !== DELIVERY_UNKNOWN && delivery >= 0x40) await this.handlers.report({ ref, delivered: false, reason: `the network could not deliver it (state 0x${delivery.toString(16)})`, at: Date.now() })
      } else if (value('PduType') === PDU_DELIVER) {
        this.handled.add(path)
        const at = Date.parse(String(value('Timestamp')))
        await this.handlers.incoming({ from: String(value('Number')), body: String(value('Text') ?? ''), at: Number.isFinite(at) ? at : Date.now() })
      } else {
        return
      }
      // stored (or a report taken): the modem's copy can go
      await (this.messaging.Delete as Call)(path).catch(() => {})
    } catch (err) {
      this.handled.delete(path)
      log('message %s not taken - %s', path, (err as Error).message)
    }
  }
}

export const modemManagerBackend: BackendKind = {
  schemes: ['mmcli'],
  usage: 'mmcli[:MODEM]',
  summary: 'ModemManager over D-Bus',
  create: (uri, handlers) => new ModemManagerBackend(uri, handlers)
}
