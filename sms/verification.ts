import { createHmac, randomInt, timingSafeEqual } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import { prepared } from './materialize.ts'
import type { NumberView } from './view-types.ts'

/**
 * Number verification by SMS (seed 002): the sender's phone texts a one-time code to the
 * number; the claiming account proves it got it. The code never travels between accounts:
 * the asker shows it knows the code (`askMac`), the claimant answers what only a receiver of
 * the code can compute (`answerOf`), both bound to the two numbers and accounts.
 */

/** How long a received code may be proven (the SMS may take its time; the asker retries). */
export const CODE_LIFETIME_MS = 30 * 60_000
/** A code: 12 characters of base32 (60 bits), in groups of 4 for reading. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const CODE = /companion-link number check: ([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})/g

export function newCode (): string {
  const chars = Array.from({ length: 12 }, () => ALPHABET[randomInt(ALPHABET.length)] ?? 'A').join('')
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`
}

/** The SMS: plain words, so a person without companion-link knows to ignore it. */
export function verificationText (code: string): string {
  return `companion-link number check: ${code}. Someone who has your number in companion-link is checking it is yours; if you do not use companion-link, ignore this message.`
}

export function codesIn (body: string): string[] {
  return [...body.matchAll(CODE)].map(m => m[1] ?? '')
}

const hmac = (code: string, text: string): string => createHmac('sha256', code).update(text).digest('base64')

/** What the asker (account `asker`, number `from`) shows to prove it sent `code` to `number`. */
export function askMac (code: string, number: string, from: string, asker: string): string {
  return hmac(code, `companion-number-ask-v1\n${number}\n${from}\n${asker}`)
}

/** What the claimant (account `claimant`) answers to prove it received `code` at `number`. */
export function answerOf (code: string, number: string, from: string, asker: string, claimant: string): string {
  return hmac(code, `companion-number-answer-v1\n${number}\n${from}\n${asker}\n${claimant}`)
}

export function sameMac (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * The code this phone received from `from` (within the lifetime, not proven before) that
 * `mac` shows the asker knows; undefined when none does (not arrived yet, or never sent).
 */
export function receivedCode (db: DatabaseSync, self: string, request: { number: string, from: string, mac: string, asker: string }, now: number): string | undefined {
  const rows = prepared(db, "SELECT body FROM messages WHERE direction = 'in' AND via = ? AND sender = ? AND created_at > ? AND body LIKE 'companion-link number check:%'")
    .all(self, request.from, now - CODE_LIFETIME_MS) as Array<{ body: string }>
  for (const { body } of rows) {
    for (const code of codesIn(body)) {
      if (prepared(db, 'SELECT 1 FROM used_codes WHERE code = ?').get(code) != null) continue
      if (sameMac(askMac(code, request.number, request.from, request.asker), request.mac)) return code
    }
  }
  return undefined
}


export function listNumbers (db: DatabaseSync): NumberView[] {
  const rows = prepared(db, 'SELECT number, account, verified_at FROM numbers ORDER BY number').all() as Array<{ number: string, account: string, verified_at: number }>
  return rows.map(r => ({ number: r.number, account: r.account, verified: true, verifiedAt: r.verified_at }))
}
