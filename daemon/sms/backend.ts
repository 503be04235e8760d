import type { SimFacts } from '../../node/identity/records.ts'
import { InvalidSmsError } from './errors.ts'
import { SimBackend } from './sim-backend.ts'
import { TermuxBackend } from './termux-backend.ts'
import { GammuSmsdBackend } from './gammu-backend.ts'
import { AtBackend } from './at/at-backend.ts'
import { ModemManagerBackend } from './mm-backend.ts'

/** An SMS the radio received; `from` as the radio gives it (the proxy normalizes it). */
export interface IncomingSms {
  from: string
  body: string
  at: number
}

/** The network's delivery report for a message the backend sent with reference `ref`. */
export interface DeliveryReport {
  ref: string
  delivered: boolean
  reason?: string
  at: number
}

/**
 * What the proxy needs of the radio. The backend calls the handlers and waits for them: an
 * incoming SMS or a report is acknowledged to the network only once it is stored.
 */
export interface BackendHandlers {
  incoming(sms: IncomingSms): Promise<void>
  report(report: DeliveryReport): Promise<void>
  /** Readiness or SIM facts changed (for the capability profile). */
  changed(): void
}

export interface SmsBackend {
  /** The `--sms` value, for status. */
  readonly uri: string
  readonly ready: boolean
  readonly facts: SimFacts
  start(): Promise<void>
  stop(): Promise<void>
  /** Hand one SMS to the network; resolves with its reference, or throws SmsBackendError(reason). */
  send(to: string, body: string): Promise<string>
}

/** `--sms` → a backend; `none` → undefined (this device is no proxy). */
export function createBackend (uri: string, handlers: BackendHandlers): SmsBackend | undefined {
  if (uri === 'none') return undefined
  if (uri.startsWith('sim://')) return new SimBackend(uri, handlers)
  if (uri === 'termux' || uri.startsWith('termux?')) return new TermuxBackend(uri, handlers)
  if (uri.startsWith('gammu-smsd:')) return new GammuSmsdBackend(uri, handlers)
  if (uri.startsWith('at:') || uri.startsWith('at+tcp:')) return new AtBackend(uri, handlers)
  if (uri === 'mmcli' || uri.startsWith('mmcli:')) return new ModemManagerBackend(uri, handlers)
  throw new InvalidSmsError(`unknown SMS backend "${uri}": use none, sim://HOST:PORT/NUMBER, at:///dev/ttyX, at+tcp://HOST:PORT, mmcli[:MODEM], termux or gammu-smsd:SPOOLDIR`)
}
