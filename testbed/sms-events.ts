import { MAX_AUDIENCE, MAX_BODY_CHARS, MAX_READ_IDS, MAX_REASON_CHARS, MAX_RECIPIENTS, STATUSES } from '../sms/constants.ts'
import type { SmsEvent } from '../sms/signed-events.ts'

/** A repeatable stream of numbers in [0, 1) (mulberry32): a failure is found again from its seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T
const int = (random: () => number, max: number): number => Math.floor(random() * (max + 1))

/** Characters of every kind a text may hold: GSM-7, its extension table, other BMP letters, emoji, controls, a lone surrogate. */
const ALPHABETS = ['abc XYZ 019 @£$', '€[]{}|^~\\', 'ąčęėįšųūž Ωψ', '😀🎉👍🏽', '\u0001\n\r\t"', '\ud800']
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

export function randomText (random: () => number, length: number): string {
  const alphabet = [...pick(random, ALPHABETS), ...(random() < 0.3 ? [...pick(random, ALPHABETS)] : [])]
  let text = ''
  while (text.length < length) text += pick(random, alphabet)
  return text.slice(0, length)
}

/** A length near one of the limits, or a short one (most texts are). */
function nearLimit (random: () => number, limit: number): number {
  const r = random()
  if (r < 0.8) return int(random, Math.min(limit, 300))
  return Math.max(0, limit - 5 + int(random, 10))
}

export const randomDevice = (random: () => number): string => 'Q' + Array.from({ length: 51 }, () => pick(random, [...BASE58])).join('')
const randomId = (random: () => number): string => `id-${Math.floor(random() * 1e12).toString(36)}`
const randomNumber = (random: () => number): string => pick(random, ['+1555010', '+4915123', '+3531234']) + String(int(random, 9999)).padStart(4, '0')

/**
 * An event as a device might try to write it: every kind, at and around every limit, some
 * valid and some not. What the writer accepts of these, its peers must accept too.
 */
export function randomEvent (random: () => number, self: string, devices: string[]): { event: SmsEvent, audience?: string[] } {
  const kind = pick(random, ['out', 'in', 'status', 'assign', 'read', 'contact', 'binding', 'seen'] as const)
  let event: SmsEvent
  if (kind === 'out' || kind === 'in') {
    const body = randomText(random, nearLimit(random, kind === 'out' && random() < 0.5 ? 255 * 67 : MAX_BODY_CHARS))
    const to = Array.from({ length: kind === 'in' ? int(random, 1) : 1 + (random() < 0.1 ? MAX_RECIPIENTS : int(random, 3)) }, () => randomNumber(random))
    event = kind === 'out'
      ? { type: 'message', id: randomId(random), direction: 'out', from: null, to, body, author: self, createdAt: 1 + int(random, 1e12) }
      : { type: 'message', id: randomId(random), direction: 'in', from: pick(random, [randomNumber(random), 'DHL Express', 'Unknown']), to, body, author: self, createdAt: 1 + int(random, 1e12), via: self, ...pick(random, [{}, { stored: true as const }, { stored: true as const, read: true as const }, { route: 'network' as const }]) }
    if (kind === 'out' && random() < 0.2) event = { ...event, via: self, stored: true }
  } else if (kind === 'status') {
    const reason = random() < 0.5 ? undefined : randomText(random, nearLimit(random, MAX_REASON_CHARS))
    event = { type: 'status', id: randomId(random), status: pick(random, STATUSES), at: 1 + int(random, 1e12), ...(reason == null ? {} : { reason }), ...(random() < 0.3 ? { from: randomNumber(random) } : {}) }
  } else if (kind === 'assign') {
    event = random() < 0.2 ? { type: 'assign', id: randomId(random), via: self, route: 'network' } : { type: 'assign', id: randomId(random), via: pick(random, devices) }
  } else if (kind === 'contact') {
    event = { type: 'contact', id: randomId(random), name: randomText(random, 1 + int(random, 199)).trim() || 'name', numbers: Array.from({ length: int(random, 20) }, () => randomNumber(random)), at: 1 + int(random, 1e12) }
  } else if (kind === 'binding') {
    event = { type: 'binding', number: randomNumber(random), account: pick(random, devices), at: 1 + int(random, 1e12), ...(random() < 0.5 ? { epoch: int(random, 5) } : {}) }
  } else if (kind === 'seen') {
    event = { type: 'seen', ids: Array.from({ length: 1 + int(random, 5) }, () => randomId(random)), at: 1 + int(random, 1e12) }
  } else {
    event = { type: 'read', ids: Array.from({ length: 1 + (random() < 0.1 ? MAX_READ_IDS - 2 + int(random, 4) : int(random, 5)) }, () => randomId(random)), at: 1 + int(random, 1e12) }
  }
  const r = random()
  if (r < 0.8) return { event }
  const audience = r < 0.95 ? [self, ...devices.filter(d => d !== self && random() < 0.5)] : [self, ...Array.from({ length: MAX_AUDIENCE - 3 + int(random, 4) }, () => randomDevice(random))]
  return { event, audience }
}
