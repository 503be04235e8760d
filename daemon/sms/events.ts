import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { EVENT_SIGNATURE_CONTEXT, MAX_BODY_CHARS, MAX_READ_IDS, MAX_RECIPIENTS, STATUSES, type SmsStatus } from './constants.ts'
import { SyncProtocolError } from './errors.ts'
import { normalizeNumber, normalizeSender } from './numbers.ts'

/** A message enters the log (written by its author: a client, or the proxy for incoming SMS). */
export interface MessageEvent {
  type: 'message'
  id: string
  direction: 'out' | 'in'
  /** The sender's number: the SIM's for outgoing (once a proxy says), the other party's for incoming. */
  from: string | null
  to: string[]
  body: string
  author: string
  createdAt: number
  /** The proxy, when the author chose it at once. */
  via?: string
}

/** The author hands a pending message to a proxy (once; a message never changes proxy). */
export interface AssignEvent { type: 'assign', id: string, via: string }

/** A status reached, said by the device that knows (the proxy; the author for `pending`). */
export interface StatusEvent { type: 'status', id: string, status: SmsStatus, at: number, reason?: string, from?: string }

/** Messages read by the user on the device that wrote the event. */
export interface ReadEvent { type: 'read', ids: string[], at: number }

export type SmsEvent = MessageEvent | AssignEvent | StatusEvent | ReadEvent

/** What a device signs: its own log entry number `seq`, and who may see it (all members when absent). */
export interface EventPayload {
  origin: string
  seq: number
  event: SmsEvent
  audience?: string[]
}

/** An event as stored and sent: the exact payload text and the origin device's signature. */
export interface SignedEvent {
  payload: string
  sig: Uint8Array
}

const ID = /^[A-Za-z0-9-]{8,64}$/
const DEVICE = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/

function fail (what: string): never {
  throw new SyncProtocolError(`invalid event: ${what}`)
}

const isTime = (t: unknown): t is number => Number.isSafeInteger(t) && (t as number) > 0
const isId = (s: unknown): s is string => typeof s === 'string' && ID.test(s)
const isDevice = (s: unknown): s is string => typeof s === 'string' && DEVICE.test(s)

/** A number (or, with `normalizeSender`, a sender id) from the network, normalized; else a violation. */
function checkParty (n: unknown, normalize: (s: string) => string = normalizeNumber): string {
  if (typeof n !== 'string') fail('a number is not a string')
  try {
    return normalize(n)
  } catch {
    fail('malformed number')
  }
}

const checkNumber = (n: unknown): string => checkParty(n)
const checkSender = (n: unknown): string => checkParty(n, normalizeSender)

/** Validate a decoded event completely: whatever the network sends, only these shapes pass. */
export function checkEvent (e: unknown): SmsEvent {
  if (e == null || typeof e !== 'object' || Array.isArray(e)) fail('not an object')
  const v = e as Record<string, unknown>
  switch (v.type) {
    case 'message': {
      if (!isId(v.id) || (v.direction !== 'out' && v.direction !== 'in') || !isDevice(v.author) || !isTime(v.createdAt)) fail('malformed message')
      if (typeof v.body !== 'string' || v.body.length > MAX_BODY_CHARS) fail('malformed body')
      if (!Array.isArray(v.to) || (v.to.length === 0 && v.direction === 'out') || v.to.length > MAX_RECIPIENTS) fail('malformed recipients')
      if (v.via !== undefined && !isDevice(v.via)) fail('malformed proxy')
      const from = v.from == null ? null : checkSender(v.from)
      const message: MessageEvent = { type: 'message', id: v.id, direction: v.direction, from, to: v.to.map(checkNumber), body: v.body, author: v.author, createdAt: v.createdAt }
      return v.via === undefined ? message : { ...message, via: v.via as string }
    }
    case 'assign':
      if (!isId(v.id) || !isDevice(v.via)) fail('malformed assignment')
      return { type: 'assign', id: v.id, via: v.via }
    case 'status': {
      if (!isId(v.id) || !STATUSES.includes(v.status as SmsStatus) || !isTime(v.at)) fail('malformed status')
      if (v.reason !== undefined && (typeof v.reason !== 'string' || v.reason.length > 200)) fail('malformed reason')
      const status: StatusEvent = { type: 'status', id: v.id, status: v.status as SmsStatus, at: v.at }
      if (v.reason !== undefined) status.reason = v.reason as string
      if (v.from !== undefined) status.from = checkNumber(v.from)
      return status
    }
    case 'read':
      if (!Array.isArray(v.ids) || v.ids.length === 0 || v.ids.length > MAX_READ_IDS || !v.ids.every(isId) || !isTime(v.at)) fail('malformed read')
      return { type: 'read', ids: v.ids as string[], at: v.at }
    default:
      fail('unknown type')
  }
}

export function checkPayload (text: string): EventPayload {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    fail('not JSON')
  }
  if (raw == null || typeof raw !== 'object') fail('not an object')
  const { origin, seq, event, audience } = raw as Record<string, unknown>
  if (!isDevice(origin) || !Number.isSafeInteger(seq) || (seq as number) < 1) fail('malformed origin or seq')
  if (audience !== undefined && (!Array.isArray(audience) || audience.length > 256 || !audience.every(isDevice))) fail('malformed audience')
  const payload: EventPayload = { origin, seq: seq as number, event: checkEvent(event) }
  if (audience !== undefined) payload.audience = audience as string[]
  return payload
}

const encoder = new TextEncoder()
const toSign = (payload: string): Uint8Array => encoder.encode(EVENT_SIGNATURE_CONTEXT + payload)

// DER prefixes that turn raw Ed25519 keys into node:crypto key objects (RFC 8410)
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Signs this device's events synchronously (inside a store transaction). */
export class EventSigner {
  private readonly key: KeyObject

  constructor (deviceKey: PrivateKey) {
    if (deviceKey.type !== 'Ed25519') throw new Error('SMS events need an Ed25519 device key')
    const seed = deviceKey.raw.subarray(0, 32)
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
  }

  seal (payload: EventPayload): SignedEvent {
    const text = JSON.stringify(payload)
    return { payload: text, sig: sign(null, toSign(text), this.key) }
  }
}

const publicKeys = new Map<string, KeyObject>()

function publicKeyOf (device: string): KeyObject {
  let key = publicKeys.get(device)
  if (key == null) {
    const raw = peerIdFromString(device).publicKey?.raw
    if (raw == null || raw.byteLength !== 32) fail('origin is not an Ed25519 device')
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
    publicKeys.set(device, key)
  }
  return key
}

/** Check the contents and the signature; returns the payload, or throws SyncProtocolError. */
export function openEvent (signed: SignedEvent): EventPayload {
  const payload = checkPayload(signed.payload)
  verifySignature(signed, payload)
  return payload
}

/** Throws SyncProtocolError unless `payload.origin` signed `signed`. */
export function verifySignature (signed: SignedEvent, payload: EventPayload): void {
  let good = false
  try {
    good = verify(null, toSign(signed.payload), publicKeyOf(payload.origin), signed.sig)
  } catch {}
  if (!good) fail('bad signature')
}
