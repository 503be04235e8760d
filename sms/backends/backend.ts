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
 * A text as the phone's own store holds it (its messaging app's history): received, or sent
 * by the phone (from its own app, or by this daemon). `party` and `at` as the store writes them.
 */
export interface StoredSms {
  /** The store's own identity of the entry (Termux `_id`, a modem's storage and index): stable while it is stored. */
  key: string
  direction: 'in' | 'out'
  /** The other party: the sender of an incoming text, the recipient of a sent one. */
  party: string
  body: string
  at: number
  /** The user has read it on the phone (incoming only). */
  read?: boolean
  /** The name the phone's contacts give the party, when the store says it. */
  name?: string
  /** The reference the backend gave a text it sent itself (matches a `send` result). */
  ref?: string
}

/** A person of the phone's own contacts: a name and the numbers as the phone writes them. */
export interface StoredContact {
  name: string
  numbers: string[]
}

/** What a backend can read of the phone's own store. */
export interface SmsHistory {
  /**
   * The texts among the store's entries `offset` to `offset + limit` (newest first; drafts and
   * the like take their place but are left out), and whether that was the end of the store.
   */
  page(offset: number, limit: number): Promise<{ entries: StoredSms[], end: boolean }>
  /** The phone's contacts, where the backend can read them. */
  contacts?(): Promise<StoredContact[]>
}

/**
 * What the proxy needs of the radio. The backend calls the handlers and waits for them: an
 * incoming SMS or a report is acknowledged to the network only once it is stored.
 */
export interface BackendHandlers {
  incoming(sms: IncomingSms): Promise<void>
  report(report: DeliveryReport): Promise<void>
  /** New entries seen in the phone's store (texts of the phone's own app); stored before they count as seen. */
  stored(entries: StoredSms[]): Promise<void>
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
  /** The phone's own store, when the backend can read it. */
  readonly history?: SmsHistory
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
