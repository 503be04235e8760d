import { createHash, timingSafeEqual } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { PAIR_CODE_DIGITS } from './constants.ts'

/**
 * The 6-digit code both screens show. It covers both device ids and both nonces; the other
 * device committed to its nonce before seeing ours, so no one in the middle can steer two
 * sessions to the same code (1 in a million per attempt, and attempts are limited).
 */
export function pairingCode (joiner: PeerId, member: PeerId, joinerNonce: Uint8Array, memberNonce: Uint8Array): string {
  const digest = createHash('sha256')
    .update('companion-pair-v1')
    .update(joiner.toMultihash().bytes)
    .update(member.toMultihash().bytes)
    .update(joinerNonce)
    .update(memberNonce)
    .digest()
  return String(digest.readUInt32BE(0) % 10 ** PAIR_CODE_DIGITS).padStart(PAIR_CODE_DIGITS, '0')
}

export function commitment (nonce: Uint8Array): string {
  return createHash('sha256').update('companion-pair-commit-v1').update(nonce).digest('hex')
}

/** Compare codes without leaking how many leading digits matched. */
export function sameCode (a: string, b: string): boolean {
  const x = Buffer.from(a.padEnd(16))
  const y = Buffer.from(b.padEnd(16))
  return x.length === y.length && timingSafeEqual(x, y)
}

export function isCode (text: unknown): text is string {
  return typeof text === 'string' && new RegExp(`^\\d{${PAIR_CODE_DIGITS}}$`).test(text)
}
