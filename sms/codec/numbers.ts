import { InvalidSmsError } from '../errors.ts'

/** E.164: a plus, a country code not starting with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/
/** Short codes (service numbers): 3 to 6 digits, no plus. */
const SHORT_CODE = /^\d{3,6}$/
/** Separators people type inside numbers. */
const SEPARATORS = /[\s\-().]/g

/**
 * Country calling codes of one and two digits (ITU-T E.164 assignments); every other code has
 * three digits. Enough to tell which country a number belongs to without a full numbering plan.
 */
const SHORT_COUNTRY_CODES = new Set([
  '1', '7', '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84', '86',
  '90', '91', '92', '93', '94', '95', '98'
])

/** Premium-rate ranges blocked like short codes unless allowed on the proxy. */
const PREMIUM_PREFIXES = ['+1900', '+1976', '+4487', '+4490', '+4491', '+4498', '+3308', '+3389', '+49900', '+39892', '+39899', '+3490', '+3480']

/** `+1 (555) 010-2030` → `+15550102030`; a short code stays digits. Throws InvalidSmsError otherwise. */
export function normalizeNumber (input: string): string {
  if (typeof input !== 'string' || input.length > 40) throw new InvalidSmsError('a phone number is a string of at most 40 characters')
  const compact = input.replace(SEPARATORS, '').replace(/^00/, '+')
  if (E164.test(compact) || SHORT_CODE.test(compact)) return compact
  throw new InvalidSmsError(`"${input}" is not a phone number: use the international form, e.g. +15550102030 (or a short code of 3-6 digits)`)
}

/** Alphanumeric sender ids (3GPP TS 23.040: up to 11 GSM characters), e.g. `VODAFONE`, `DHL Express`. */
const SENDER_ID = /^[A-Za-z0-9][A-Za-z0-9 .&'_+-]{0,10}$/

/** Who an incoming SMS is from: a phone number (normalized) or a sender id (as written). */
export function normalizeSender (input: string): string {
  try {
    return normalizeNumber(input)
  } catch (err) {
    if (typeof input === 'string' && SENDER_ID.test(input) && /[A-Za-z]/.test(input)) return input
    throw err
  }
}

/** The sender of an incoming SMS as the radio wrote it; neither a number nor a sender id: `Unknown` (the message still counts). */
export function senderOf (raw: string): string {
  try {
    return normalizeSender(raw)
  } catch {
    return 'Unknown'
  }
}

/** A number as an event may carry it, or undefined: a backend's odd answer (`+CNUM` without a plus) is left out. */
export function numberOrNone (raw: string | undefined): string | undefined {
  if (raw == null) return undefined
  try {
    return normalizeNumber(raw)
  } catch {
    return undefined
  }
}

/** The normalized, sorted, de-duplicated set of parties a conversation is about, as one key. */
export function conversationOf (numbers: string[]): string {
  return [...new Set(numbers.map(normalizeSender))].sort().join(',')
}

export function isShortCode (number: string): boolean {
  return SHORT_CODE.test(number)
}

export function isPremium (number: string): boolean {
  return PREMIUM_PREFIXES.some(p => number.startsWith(p))
}

/** The country calling code of an E.164 number (`+4915…` → `49`), undefined for short codes. */
export function countryCode (number: string): string | undefined {
  if (!E164.test(number)) return undefined
  const digits = number.slice(1)
  for (const length of [1, 2]) {
    if (SHORT_COUNTRY_CODES.has(digits.slice(0, length))) return digits.slice(0, length)
  }
  return digits.slice(0, 3)
}
