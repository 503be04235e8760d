/**
 * The control API's one contract: every route's method, path, what it takes and what it
 * answers, whether the web page may use it, and the error every failure is. The router
 * (daemon), the CLI's client and the page's client all import it, so a shape is declared once.
 * It imports types only: the CLI and the browser load nothing of the daemon through it.
 */
import type { LinkInfo } from '../../link/link-types.ts'
import type { Attachment, ContactView, ConversationView, MessageView, NumberView } from '../../sms/view-types.ts'
import type { DeviceEntry, DevicePatch, GrantView, PairRequestView, Status } from './types.ts'
import type { ShareView } from '../../share/constants.ts'

/** An error the control API returns to its client: an HTTP status, a stable code, a message. */
export class ControlError extends Error {
  override readonly name = 'ControlError'
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

/**
 * How a route answers: one JSON value; JSON lines while it runs (pairing, forwards, waiting
 * for a status); Server-Sent Events; an upgrade to a raw byte stream (a channel); or bytes
 * of a file, taken (an upload's body, answered with JSON) or given (a download).
 */
export type Answer = 'json' | 'lines' | 'events' | 'upgrade' | 'bytes'

/** What a request carries: `:name` path parameters, query parameters, a JSON body. */
export interface Input {
  params?: Record<string, string>
  query?: Record<string, string | number | undefined>
  body?: unknown
}

export interface Endpoint<In extends Input = Input, Out = unknown> {
  readonly method: Method
  /** With `:name` segments, e.g. `/v1/devices/:device`. */
  readonly path: string
  readonly answer: Answer
  /** May the web page use it? A route is for the CLI alone unless it says so. */
  readonly page: boolean
  /** Type carriers only, never set: what the route takes and answers (a line, for `lines`). */
  readonly in?: In
  readonly out?: Out
}

function endpoint<In extends Input, Out> (method: Method, path: string, answer: Answer, page: 'page' | 'cli'): Endpoint<In, Out> {
  return { method, path, answer, page: page === 'page' }
}

/** `{}`: a route that takes nothing. */
export type NoInput = Record<never, never>

/** `POST /v1/sms`: the new message as stored, and how it will go out. */
export interface SendResult {
  id: string
  to: string[]
  via: string | null
  status: string
  reason?: string
  parts: number
  encoding: string
}

export type { LinkInfo }
export type LinkRow = LinkInfo & { name: string }

/** Lines of `POST /v1/shares`: what was queued, each change of a transfer, then all of them once every one ended. */
export type ShareLine = { event: 'queued', transfers: ShareView[] }
  | { event: 'progress', id: string, device: string, name: string, bytes: number, size: number, state: ShareView['state'], reason?: string }
  | { event: 'end', transfers: ShareView[] }

/** Lines of `POST /v1/pair`: the code to type on the other device, then the outcome. */
export type PairLine = { event: 'code', code: string } | { event: 'paired', account: string, device: string } | { event: 'failed', message: string }

/** Lines of `POST /v1/sms/import`: progress while the phone's store is read, then the outcome. */
export type ImportLine = { event: 'progress', scanned: number, added: number }
  | { event: 'done', scanned: number, added: number, contacts: number }
  | { event: 'failed', message: string }

/** `POST /v1/contacts/import`: contacts new or changed, and numbers that could not be read. */
export interface ContactsImportResult { contacts: number, unreadable: number }

/** Lines of `POST /v1/numbers/verify`: who claims it, the code texted, then the outcome. */
export type VerifyLine = { event: 'claimed', accounts: number }
  | { event: 'code-sent', from: string }
  | { event: 'verified', number: string, account: string }
  | { event: 'failed', message: string }

/** The line of `POST /v1/forwards` once it listens; the request then stays open as long as the forward. */
export interface ForwardLine { event: 'listening', localPort: number, remotePort: number, device: string }

export const API = {
  status: endpoint<NoInput, Status>('GET', '/v1/status', 'json', 'page'),
  devices: endpoint<NoInput, DeviceEntry[]>('GET', '/v1/devices', 'json', 'page'),
  device: endpoint<{ params: { device: string } }, DeviceEntry>('GET', '/v1/devices/:device', 'json', 'cli'),
  updateSelf: endpoint<{ body: DevicePatch }, Status>('PATCH', '/v1/self', 'json', 'cli'),
  dial: endpoint<{ body: { multiaddr: string } }, DeviceEntry>('POST', '/v1/dial', 'json', 'cli'),
  events: endpoint<{ query: { types?: string } }, never>('GET', '/v1/events', 'events', 'page'),

  pair: endpoint<{ body: { device: string, timeoutS?: number } }, PairLine>('POST', '/v1/pair', 'lines', 'page'),
  pairRequests: endpoint<NoInput, PairRequestView[]>('GET', '/v1/pair/requests', 'json', 'page'),
  pairAccept: endpoint<{ body: { device: string, code: string } }, { device: string }>('POST', '/v1/pair/accept', 'json', 'page'),
  pairReject: endpoint<{ body: { device: string } }, { device: string }>('POST', '/v1/pair/reject', 'json', 'page'),
  unpair: endpoint<{ body: { device: string } }, { device: string, left: boolean }>('POST', '/v1/unpair', 'json', 'page'),
  grants: endpoint<NoInput, GrantView[]>('GET', '/v1/grants', 'json', 'page'),
  setGrant: endpoint<{ body: { device: string, capability: string, allowed: boolean } }, GrantView[]>('PUT', '/v1/grants', 'json', 'page'),

  links: endpoint<{ query: { device?: string } }, LinkRow[]>('GET', '/v1/links', 'json', 'page'),
  connect: endpoint<{ query: { device: string, channel: string, priority?: 'bulk' | 'interactive' } }, never>('GET', '/v1/connect', 'upgrade', 'cli'),
  forward: endpoint<{ body: { localPort: number, device: string, remotePort: number } }, ForwardLine>('POST', '/v1/forwards', 'lines', 'cli'),

  send: endpoint<{ body: { to: string[], body: string, via?: string, route?: 'network' | 'sms', attachments?: Attachment[] } }, SendResult>('POST', '/v1/sms', 'json', 'page'),
  upload: endpoint<{ query: { name: string } }, Attachment>('POST', '/v1/attachments', 'bytes', 'page'),
  attachment: endpoint<{ params: { id: string, index: string }, query: { download?: string } }, never>('GET', '/v1/sms/:id/attachments/:index', 'bytes', 'page'),
  messages: endpoint<{ query: { with?: string, search?: string, limit?: number, before?: number } }, MessageView[]>('GET', '/v1/sms', 'json', 'page'),
  conversations: endpoint<NoInput, ConversationView[]>('GET', '/v1/sms/conversations', 'json', 'page'),
  message: endpoint<{ params: { id: string } }, MessageView>('GET', '/v1/sms/:id', 'json', 'page'),
  read: endpoint<{ body: { target: string } }, { read: number }>('POST', '/v1/sms/read', 'json', 'page'),
  importHistory: endpoint<{ body: { since?: number, via?: string } }, ImportLine>('POST', '/v1/sms/import', 'lines', 'page'),
  contacts: endpoint<NoInput, ContactView[]>('GET', '/v1/contacts', 'json', 'page'),
  importContacts: endpoint<{ body: { path: string } }, ContactsImportResult>('POST', '/v1/contacts/import', 'json', 'cli'),
  numbers: endpoint<NoInput, NumberView[]>('GET', '/v1/numbers', 'json', 'page'),
  verifyNumber: endpoint<{ body: { number: string } }, VerifyLine>('POST', '/v1/numbers/verify', 'lines', 'page'),
  waitFor: endpoint<{ params: { id: string }, query: { status: 'accepted' | 'sent' | 'delivered' } }, MessageView>('GET', '/v1/sms/:id/wait', 'lines', 'cli'),

  shares: endpoint<NoInput, ShareView[]>('GET', '/v1/shares', 'json', 'page'),
  share: endpoint<{ body: { paths?: string[], text?: string, to: string[] } }, ShareLine>('POST', '/v1/shares', 'lines', 'page'),
  shareUpload: endpoint<{ query: { name: string, to: string } }, ShareView[]>('POST', '/v1/shares/upload', 'bytes', 'page'),
  sharedFile: endpoint<{ params: { id: string }, query: { device: string } }, never>('GET', '/v1/shares/:id/file', 'bytes', 'page'),
  cancelShare: endpoint<{ params: { id: string } }, ShareView[]>('POST', '/v1/shares/:id/cancel', 'json', 'page'),
  uiLink: endpoint<NoInput, { url: string, expiresAt: number }>('POST', '/v1/ui', 'json', 'cli')
} as const

export type InputOf<E> = E extends Endpoint<infer In, unknown> ? In : never
export type OutputOf<E> = E extends Endpoint<Input, infer Out> ? Out : never

/** The request's path and query string: `:name` segments filled in (encoded), undefined query values left out. */
export function urlOf (endpoint: Endpoint, input: Input = {}): string {
  const path = endpoint.path.replace(/:([a-z]+)/gi, (_m, name: string) => {
    const value = input.params?.[name]
    if (value == null) throw new TypeError(`${endpoint.path} needs ${name}`)
    return encodeURIComponent(value)
  })
  const query = Object.entries(input.query ?? {}).filter(([, v]) => v != null).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
  return query.length === 0 ? path : `${path}?${query.join('&')}`
}
