import { SyncProtocolError } from './errors.ts'
import { stubOf } from './signed-events.ts'
import type { IncomingEntry, LogEntry } from './store.ts'

/** A log entry on the `sms-sync` channel (docs/PROTOCOL.md §8.3). */
export type WireEntry = { t: 'e', p: string, s: string, h?: string } | { t: 'h', p: string, s: string }

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/** An entry as `device` may see it; undefined when it may not see even its place (it gets that from the origin). */
export function toWire (entry: LogEntry, device: string): WireEntry | undefined {
  if (entry.kind === 'placeholder') return entry.stub == null ? undefined : { t: 'h', p: entry.stub.text, s: base64(entry.stub.sig) }
  const { signed } = entry
  // a refused event travels on only when it is meant for everyone: its audience cannot be trusted
  if (entry.kind === 'refused') return hasAudience(signed.payload) ? undefined : { t: 'e', p: signed.payload, s: base64(signed.sig) }
  const audience = entry.payload.audience
  if (audience != null && !audience.includes(device)) {
    // an event meant for some devices only travels to the others as its signed stub
    return signed.stub == null ? undefined : { t: 'h', p: stubOf({ origin: entry.origin, seq: entry.seq, audience }), s: base64(signed.stub) }
  }
  return { t: 'e', p: signed.payload, s: base64(signed.sig), ...(signed.stub == null ? {} : { h: base64(signed.stub) }) }
}

/** Does a payload this device refused name an audience (or can it not tell)? */
function hasAudience (payload: string): boolean {
  try {
    return (JSON.parse(payload) as { audience?: unknown }).audience !== undefined
  } catch {
    return true
  }
}

const SIG_BASE64 = /^[A-Za-z0-9+/]{86}==$/

/** A frame as an entry; a legacy placeholder without proof is undefined (ignored); anything else is a violation. */
export function fromWire (value: unknown): IncomingEntry | undefined {
  const v = value as Partial<Record<string, unknown>> | null
  if (typeof v?.p === 'string' && typeof v.s === 'string' && SIG_BASE64.test(v.s)) {
    if (v.t === 'e' && (v.h === undefined || (typeof v.h === 'string' && SIG_BASE64.test(v.h)))) {
      return { signed: { payload: v.p, sig: Buffer.from(v.s, 'base64'), ...(v.h === undefined ? {} : { stub: Buffer.from(v.h as string, 'base64') }) } }
    }
    if (v.t === 'h') return { stub: { text: v.p, sig: Buffer.from(v.s, 'base64') } }
  }
  if (v?.t === 'h' && typeof v.o === 'string' && Number.isSafeInteger(v.q)) return undefined
  throw new SyncProtocolError('a frame is not a log entry')
}

export const wire = (entries: LogEntry[], device: string): WireEntry[] => entries.flatMap(e => toWire(e, device) ?? [])
