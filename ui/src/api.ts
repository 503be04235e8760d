/**
 * The daemon's control API, as the page reaches it (`/api/v1/...` on the page's own origin;
 * the session cookie rides along). Shapes are the daemon's own types.
 */
import type { DaemonEventMap, DeviceEntry, GrantView, PairRequestView, Status } from '../../daemon/control/types.ts'
import type { Attachment, AttachmentView, ContactView, ConversationView, MessageView } from '../../sms/view-types.ts'
import { LineReader } from '../../framing/lines.ts'
import type { ShareView } from '../../share/constants.ts'
import { API, ControlError, urlOf, type Endpoint, type Input, type InputOf, type LinkInfo, type LinkRow, type OutputOf } from '../../daemon/control/contract.ts'

export type { DaemonEventMap, DeviceEntry, GrantView, PairRequestView, Status, ContactView, ConversationView, MessageView, LinkInfo, LinkRow, Attachment, AttachmentView, ShareView }

/** Told when the session is gone (401): the page then says how to get back in. */
let onSignedOut: () => void = () => {}
export function whenSignedOut (listener: () => void): void {
  onSignedOut = listener
}

/** What the daemon answered instead of a result: its `{ error: { code, message } }`, as the daemon's own ControlError. */
async function failure (res: Response): Promise<ControlError> {
  let code = 'http_' + String(res.status)
  let message = `the daemon answered ${res.status} ${res.statusText}`
  try {
    const body = await res.json() as { error?: { code?: string, message?: string } }
    code = body.error?.code ?? code
    message = body.error?.message ?? message
  } catch {}
  if (res.status === 401) onSignedOut()
  return new ControlError(res.status, code, message)
}

/** A file's bytes as a request's body (an upload). */
async function uploadRequest (path: string, file: File): Promise<Response> {
  let res: Response
  try {
    res = await fetch('/api' + path, { method: 'POST', headers: { 'content-type': file.type === '' ? 'application/octet-stream' : file.type }, body: file, credentials: 'same-origin' })
  } catch {
    throw new ControlError(0, 'unreachable', 'the daemon does not answer; is it still running?')
  }
  if (!res.ok) throw await failure(res)
  return res
}

/** Where the page saves a file another device shared with this one. */
export function receivedFileUrl (id: string, device: string): string {
  return '/api' + urlOf(API.sharedFile, { params: { id }, query: { device } })
}

/** Where the page shows (or, `download`, saves) a message's file. */
export function attachmentUrl (id: string, index: number, download = false): string {
  return '/api' + urlOf(API.attachment, { params: { id, index: String(index) }, query: { download: download ? '1' : undefined } })
}

async function request (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  let res: Response
  try {
    res = await fetch('/api' + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ControlError(0, 'unreachable', 'the daemon does not answer; is it still running?')
  }
  if (!res.ok) throw await failure(res)
  return res
}

/** Where the page follows the daemon's events (Server-Sent Events). */
export const EVENTS_URL = '/api' + urlOf(API.events, {})

/** Call a route of the contract (only those it marks for the page answer here). */
export async function call<E extends Endpoint> (endpoint: E, input: InputOf<E>): Promise<OutputOf<E>> {
  const given: Input = input
  return await (await request(endpoint.method, urlOf(endpoint, given), given.body)).json() as OutputOf<E>
}

/** A long answer of one JSON object per line (pairing), handed over line by line. */
export async function lines<E extends Endpoint> (endpoint: E, input: InputOf<E>, signal: AbortSignal, onLine: (value: OutputOf<E>) => void): Promise<void> {
  const given: Input = input
  const res = await request(endpoint.method, urlOf(endpoint, given), given.body, signal)
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader()
  if (reader == null) return
  const records = new LineReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    for (const line of records.push(value)) onLine(JSON.parse(line) as OutputOf<E>)
  }
}

export const api = {
  status: async () => await call(API.status, {}),
  devices: async () => await call(API.devices, {}),
  links: async () => await call(API.links, { query: {} }),
  conversations: async () => await call(API.conversations, {}),
  contacts: async () => await call(API.contacts, {}),
  numbers: async () => await call(API.numbers, {}),
  messages: async (query: { with?: string, search?: string, limit?: number, before?: number }) => await call(API.messages, { query }),
  message: async (id: string) => await call(API.message, { params: { id } }),
  send: async (to: string[], body: string, via?: string, attachments?: Attachment[]) => await call(API.send, { body: { to, body, ...(via == null ? {} : { via }), ...(attachments == null || attachments.length === 0 ? {} : { attachments }) } }),
  /** A file for a text: its bytes as the body; what a send names it by. */
  upload: async (file: File) => await (await uploadRequest(urlOf(API.upload, { query: { name: file.name } }), file)).json() as Attachment,
  read: async (target: string) => await call(API.read, { body: { target } }),
  requests: async () => await call(API.pairRequests, {}),
  accept: async (device: string, code: string) => await call(API.pairAccept, { body: { device, code } }),
  reject: async (device: string) => await call(API.pairReject, { body: { device } }),
  unpair: async (device: string) => await call(API.unpair, { body: { device } }),
  grants: async () => await call(API.grants, {}),
  setGrant: async (device: string, capability: string, allowed: boolean) => await call(API.setGrant, { body: { device, capability, allowed } }),
  shares: async () => await call(API.shares, {}),
  /** Send a file to devices: uploaded to this daemon, which carries it on. */
  shareFile: async (file: File, to: string[]) => await (await uploadRequest(urlOf(API.shareUpload, { query: { name: file.name, to: to.join(',') } }), file)).json() as ShareView[],
  shareText: async (text: string, to: string[]) => { await lines(API.share, { body: { text, to } }, AbortSignal.timeout(120_000), () => {}) },
  cancelShare: async (id: string) => await call(API.cancelShare, { params: { id } }),
  logout: async () => { await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' }) }
}
