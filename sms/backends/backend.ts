import type { SimFacts } from '../../node/identity/records.ts'

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

/**
 * One kind of backend, registered under its URI scheme(s) (sms/backends/registry.ts): it
 * creates the backend, checks its URI (the constructor throws InvalidSmsError) and writes
 * its line of `--sms` help.
 */
export interface BackendKind {
  /** URI schemes, without the colon (`sim`, `at+tcp`); a URI that is only the scheme (`termux`) counts too. */
  readonly schemes: readonly string[]
  /** The URI's form, e.g. `sim://HOST:PORT/NUMBER`. */
  readonly usage: string
  /** What it talks to, in a few words. */
  readonly summary: string
  create(uri: string, handlers: BackendHandlers): SmsBackend
}
