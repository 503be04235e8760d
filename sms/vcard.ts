import { InvalidContactsError } from './errors.ts'
import { MAX_CONTACT_NUMBERS, MAX_NAME_CHARS } from './constants.ts'

/** A person of a vCard file: its UID when it has one, its name and its numbers as written. */
export interface VCardContact {
  uid?: string
  name: string
  numbers: string[]
}

/** The largest address book read; a photo-laden export of a few thousand people fits. */
export const MAX_VCARD_BYTES = 32 * 1024 * 1024
export const MAX_VCARD_CONTACTS = 50_000

/** `\,` `\;` `\n` `\\` of vCard 3 and 4 text values. */
function unescape (value: string): string {
  return value.replace(/\\([\\,;nN])/g, (_m, c: string) => (c === 'n' || c === 'N' ? ' ' : c)).trim()
}

/** `N:Family;Given;Additional;Prefix;Suffix` → `Given Family`, for a card without FN. */
function nameFromN (value: string): string {
  const [family = '', given = ''] = value.split(/(?<!\\);/).map(unescape)
  return [given, family].filter(Boolean).join(' ')
}

/** A TEL value: text (`+1 555 010 0002`) or a `tel:` URI (vCard 4, `tel:+1-555-010-0002;ext=1`). */
function telNumber (value: string): string {
  const v = unescape(value)
  return v.toLowerCase().startsWith('tel:') ? (v.slice(4).split(';')[0] ?? '') : v
}

/**
 * The contacts of a vCard file (vCard 3 and 4; 2.1 as far as it is the same): FN (or N),
 * every TEL, UID. Lines are unfolded first; property groups (`item1.TEL`) and parameters are
 * ignored; cards without a name or a number are left out. Throws InvalidContactsError when the
 * text holds no card at all or is too large.
 */
export function parseVCards (text: string): VCardContact[] {
  if (text.length > MAX_VCARD_BYTES) throw new InvalidContactsError(`an address book of at most ${MAX_VCARD_BYTES / 1024 / 1024} MB is read`)
  const lines = text.replace(/\r\n?/g, '\n').replace(/\n[ \t]/g, '').split('\n')
  const contacts: VCardContact[] = []
  let card: { uid?: string, fn?: string, n?: string, numbers: string[] } | undefined
  let cards = 0
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const head = line.slice(0, colon).toUpperCase()
    const value = line.slice(colon + 1)
    const property = (head.split(';')[0] ?? '').replace(/^[A-Z0-9-]+\./, '')
    if (property === 'BEGIN' && value.trim().toUpperCase() === 'VCARD') {
      card = { numbers: [] }
      cards++
      if (cards > MAX_VCARD_CONTACTS) throw new InvalidContactsError(`an address book of at most ${MAX_VCARD_CONTACTS} contacts is read`)
    } else if (card == null) {
      continue
    } else if (property === 'END' && value.trim().toUpperCase() === 'VCARD') {
      const name = (card.fn ?? (card.n == null ? '' : nameFromN(card.n))).slice(0, MAX_NAME_CHARS)
      const numbers = [...new Set(card.numbers.filter(n => n !== ''))].slice(0, MAX_CONTACT_NUMBERS)
      if (name !== '' && numbers.length > 0) contacts.push({ ...(card.uid == null ? {} : { uid: card.uid }), name, numbers })
      card = undefined
    } else if (property === 'FN') {
      card.fn = unescape(value)
    } else if (property === 'N') {
      card.n = value
    } else if (property === 'TEL') {
      card.numbers.push(telNumber(value))
    } else if (property === 'UID') {
      card.uid = unescape(value).slice(0, 200)
    }
  }
  if (cards === 0) throw new InvalidContactsError('this is not a vCard file: no BEGIN:VCARD in it')
  return contacts
}
