import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { PAIR_SID_BYTES } from './constants.ts'
import { PairingError } from './errors.ts'
import { decodeGift, encodeGift, type AccountGift } from './account.ts'

/** The messages of `/companion/pair/2.0.0` (docs/PROTOCOL.md §4.3). */
export type PairMessage =
  | { t: 'hello', timeoutMs: number, sid: string }
  | { t: 'wait', sid: string }
  | { t: 'share', y: string, confirm?: string }
  | { t: 'accept', confirm: string, gift: string }
  | { t: 'reject', reason: string }
  | { t: 'refuse', reason: string }
  | { t: 'done' }
  | { t: 'error', reason: string }

/** Pairing messages carry at most an (encrypted) account key, a certificate and a revocation list. */
export const MAX_PAIR_FRAME_BYTES = 128 * 1024
const GIFT_NONCE_BYTES = 12
const GIFT_TAG_BYTES = 16
const GIFT_AAD = new TextEncoder().encode('companion-pair-gift-v2')

const broken = (what: string): PairingError => new PairingError(`the other device broke the pairing protocol (${what})`)

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/** Base64 of exactly `length` bytes (or any length when omitted), else a protocol error. */
export function unb64 (s: unknown, what: string, length?: number): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw broken(`${what} is not base64`)
  const bytes = new Uint8Array(Buffer.from(s, 'base64'))
  if (length != null && bytes.byteLength !== length) throw broken(`${what} is not ${length} bytes`)
  return bytes
}

export async function send (lp: LengthPrefixedStream, message: PairMessage, signal: AbortSignal): Promise<void> {
  await lp.write(new TextEncoder().encode(JSON.stringify(message)), { signal })
}

/** The next message, which must be one of `expected`; a closed stream or garbage is a PairingError. */
export async function receive<T extends PairMessage['t']> (lp: LengthPrefixedStream, signal: AbortSignal, ...expected: T[]): Promise<Extract<PairMessage, { t: T }>> {
  let bytes: Uint8Array
  try {
    bytes = (await lp.read({ signal })).subarray()
  } catch (err) {
    if (signal.aborted) throw err
    throw new PairingError('the other device ended the pairing')
  }
  return parseMessage(bytes, ...expected)
}

/** One message's bytes: a JSON object whose `t` is one of `expected`, else a PairingError. */
export function parseMessage<T extends PairMessage['t']> (bytes: Uint8Array, ...expected: T[]): Extract<PairMessage, { t: T }> {
  let message: unknown
  try {
    message = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw broken('not UTF-8 JSON')
  }
  const t = (message as { t?: unknown } | null)?.t
  if (typeof message !== 'object' || message == null || Array.isArray(message) || !(expected as unknown[]).includes(t)) throw broken(`expected ${expected.join(' or ')}`)
  return message as Extract<PairMessage, { t: T }>
}

/** A session id half: random bytes each side contributes. */
export function sessionIdPart (): Uint8Array {
  return randomBytes(PAIR_SID_BYTES)
}

/** The account gift, encrypted with the CPace session key (AES-256-GCM): nonce | ciphertext | tag. */
export function sealGift (key: Uint8Array, gift: AccountGift): Uint8Array {
  const nonce = randomBytes(GIFT_NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(GIFT_AAD)
  return Buffer.concat([nonce, cipher.update(encodeGift(gift)), cipher.final(), cipher.getAuthTag()])
}

export function openGift (key: Uint8Array, sealed: Uint8Array): AccountGift {
  if (sealed.byteLength < GIFT_NONCE_BYTES + GIFT_TAG_BYTES) throw broken('the account is too short')
  let plain: Uint8Array
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, GIFT_NONCE_BYTES)).setAAD(GIFT_AAD)
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - GIFT_TAG_BYTES))
    plain = Buffer.concat([decipher.update(sealed.subarray(GIFT_NONCE_BYTES, sealed.byteLength - GIFT_TAG_BYTES)), decipher.final()])
  } catch {
    throw broken('the account does not decrypt with the session key')
  }
  return decodeGift(plain, broken)
}
