import { charSeptets } from './gsm7.ts'

export type Encoding = 'gsm7' | 'ucs2'

/** How a text goes out: its encoding and the text of each part. */
export interface MessagePlan {
  encoding: Encoding
  parts: string[]
}

/** Capacity of one SMS: 140 octets of user data. A concatenation header takes 6 of them (8-bit reference). */
export const SINGLE_SEPTETS = 160
export const MULTI_SEPTETS = 153
export const SINGLE_UNITS = 70
export const MULTI_UNITS = 67
/** Parts a message may have: what the 8-bit concatenation reference allows, and what networks deliver. */
export const MAX_PARTS = 255

/**
 * Split a text as a phone would: GSM-7 (with the extension table) when every character is in
 * it, UCS-2 otherwise. An escape sequence never straddles two parts, nor does a surrogate pair
 * (an emoji): a part then carries one unit less.
 */
export function planMessage (text: string): MessagePlan {
  const chars = [...text]
  const septets = chars.map(charSeptets)
  if (septets.every(s => s != null)) {
    const total = septets.reduce((n, s) => n + (s?.length ?? 0), 0)
    if (total <= SINGLE_SEPTETS) return { encoding: 'gsm7', parts: [text] }
    return { encoding: 'gsm7', parts: split(chars, c => charSeptets(c)?.length ?? 1, MULTI_SEPTETS) }
  }
  if (text.length <= SINGLE_UNITS) return { encoding: 'ucs2', parts: [text] }
  return { encoding: 'ucs2', parts: split(chars, c => c.length, MULTI_UNITS) }
}

function split (chars: string[], cost: (c: string) => number, capacity: number): string[] {
  const parts: string[] = []
  let current = ''
  let used = 0
  for (const c of chars) {
    const n = cost(c)
    if (used + n > capacity) {
      parts.push(current)
      current = ''
      used = 0
    }
    current += c
    used += n
  }
  if (current !== '' || parts.length === 0) parts.push(current)
  return parts
}
