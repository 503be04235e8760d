/**
 * The daemon's control API, as the page reaches it (`/api/v1/...` on the page's own origin;
 * the session cookie rides along). Shapes are the daemon's own types.
 */
import type { DaemonEventMap, DeviceEntry, GrantView, PairRequestView, Status } from '../../daemon/control/types.ts'
import type { ConversationView, MessageView } from '../../sms/view-types.ts'
import type { LinkInfo } from '../../link/link-types.ts'
import { ControlError } from '../../daemon/errors.ts'

export type { DaemonEventMap, DeviceEntry, GrantView, PairRequestView, Status, ConversationView, MessageView, LinkInfo }
export type LinkRow = LinkInfo & { name: string }

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

export async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
  return await (await request(method, path, body)).json() as T
}

/** A long answer of one JSON object per line (pairing), handed over line by line. */
export async function lines (path: string, body: unknown, signal: AbortSignal, onLine: (value: Record<string, unknown>) => void): Promise<void> {
  const res = await request('POST', path, body, signal)
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader()
  if (reader == null) return
  let buffered = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffered += value
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim()
      buffered = buffered.slice(nl + 1)
      if (line !== '') onLine(JSON.parse(line) as Record<string, unknown>)
    }
  }
}

export const api = {
  status: async () => await call<Status>('GET', '/v1/status'),
  devices: async () => await call<DeviceEntry[]>('GET', '/v1/devices'),
  links: async () => await call<LinkRow[]>('GET', '/v1/links'),
  conversations: async () => await call<ConversationView[]>('GET', '/v1/sms/conversations'),
  messages: async (query: { with?: string, search?: string, limit?: number, before?: number }) => {
    const params = Object.entries(query).filter(([, v]) => v != null).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
    return await call<MessageView[]>('GET', `/v1/sms?${params.join('&')}`)
  },
  message: async (id: string) => await call<MessageView>('GET', `/v1/sms/${encodeURIComponent(id)}`),
  send: async (to: string[], body: string, via?: string) =>
    await call<{ id: string, parts: number, encoding: string }>('POST', '/v1/sms', { to, body, ...(via == null ? {} : { via }) }),
  read: async (target: string) => await call<{ read: number }>('POST', '/v1/sms/read', { target }),
  requests: async () => await call<PairRequestView[]>('GET', '/v1/pair/requests'),
  accept: async (device: string, code: string) => await call<{ device: string }>('POST', '/v1/pair/accept', { device, code }),
  reject: async (device: string) => await call<{ device: string }>('POST', '/v1/pair/reject', { device }),
  unpair: async (device: string) => await call<{ device: string, left: boolean }>('POST', '/v1/unpair', { device }),
  grants: async () => await call<GrantView[]>('GET', '/v1/grants'),
  setGrant: async (device: string, capability: string, allowed: boolean) => await call<GrantView[]>('PUT', '/v1/grants', { device, capability, allowed }),
  logout: async () => { await fetch('/api/logout', { method: 'POST', credentials: 'same-origin' }) }
}
