import type { CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/min'
import { normalizeNumber } from './codec/numbers.ts'

/**
 * The numbering plans (libphonenumber's metadata, a few MB in memory) are loaded when first
 * needed, not with the daemon: most devices never read a national number.
 */
let parse: typeof parsePhoneNumberFromString | undefined

/** Load the numbering plans; `toE164` reads national forms once this resolved. */
export async function loadNumberPlans (): Promise<void> {
  parse ??= (await import('libphonenumber-js/min')).parsePhoneNumberFromString
}

/**
 * A number as a phone's store or address book writes it, in the E.164 form events carry:
 * international forms and short codes as `normalizeNumber` reads them, and national forms
 * (`(555) 010-0002`, `0151 23456789`) read with the numbering plan of `country` (ISO 3166
 * alpha-2, the SIM's), once `loadNumberPlans` resolved. Undefined when it is no number this can place.
 */
export function toE164 (raw: string, country?: string): string | undefined {
  try {
    return normalizeNumber(raw)
  } catch {}
  if (parse == null || country == null || !/^[A-Z]{2}$/.test(country) || typeof raw !== 'string' || raw.length > 40) return undefined
  try {
    const parsed = parse(raw, country as CountryCode)
    if (parsed == null || !parsed.isPossible()) return undefined
    return normalizeNumber(parsed.number)
  } catch {
    return undefined
  }
}
