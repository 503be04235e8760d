import { createHash } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import { MAX_CONTACT_NUMBERS, MAX_NAME_CHARS } from './constants.ts'
import { prepared } from './materialize.ts'
import { toE164 } from './national-numbers.ts'
import type { ContactEvent } from './signed-events.ts'
import type { ContactView } from './view-types.ts'

/** A contact as a source gives it: an id stable across imports of that source, a name, numbers as written. */
export interface ContactDraft {
  id: string
  name: string
  numbers: string[]
}

/** A contact's id: the same person of the same source (a phone, a vCard's UID or name) is the same contact. */
export function contactId (source: string, key: string): string {
  return 'c-' + createHash('sha256').update(`${source}\n${key}`).digest('hex').slice(0, 32)
}

/** Every contact, by name. */
export function listContacts (db: DatabaseSync): ContactView[] {
  const rows = prepared(db, "SELECT id, name, numbers FROM contacts WHERE numbers != '[]' ORDER BY name COLLATE NOCASE, id").all() as Array<{ id: string, name: string, numbers: string }>
  return rows.map(r => ({ id: r.id, name: r.name, numbers: JSON.parse(r.numbers) as string[] }))
}

/** Number → name: the newest contact holding the number names it. */
export function nameIndex (db: DatabaseSync): Map<string, string> {
  const rows = prepared(db, 'SELECT n.number, c.name FROM contact_numbers n JOIN contacts c ON c.id = n.id ORDER BY c.at, c.origin, c.seq').all() as Array<{ number: string, name: string }>
  return new Map(rows.map(r => [r.number, r.name]))
}

/** The name of one party (or of each party of a group, a number where none is known); null when none is known. */
export function nameOfParties (names: ReadonlyMap<string, string>, numbers: string[]): string | null {
  const known = numbers.map(n => names.get(n))
  if (known.every(n => n == null)) return null
  return numbers.map((n, i) => known[i] ?? n).join(', ')
}

/**
 * The events that bring the contacts in line with `drafts`: numbers read in E.164 (national
 * forms with the plan of `country`), numbers that cannot be read left out, and a contact whose
 * name and numbers are already so left alone (importing the same book twice writes nothing).
 */
export function contactEvents (db: DatabaseSync, drafts: ContactDraft[], country: string | undefined, at: number, options: { merge?: boolean } = {}): { events: ContactEvent[], unreadable: number } {
  const byId = new Map<string, { name: string, numbers: Set<string> }>()
  const current = (id: string): { name: string, numbers: string } | undefined => prepared(db, 'SELECT name, numbers FROM contacts WHERE id = ?').get(id) as { name: string, numbers: string } | undefined
  let unreadable = 0
  for (const d of drafts) {
    // merging (a name the store gave beside one text), the numbers the contact has stay
    const entry = byId.get(d.id) ?? { name: d.name.trim().slice(0, MAX_NAME_CHARS), numbers: new Set<string>(options.merge === true ? JSON.parse(current(d.id)?.numbers ?? '[]') as string[] : []) }
    for (const raw of d.numbers) {
      const number = toE164(raw, country)
      if (number == null) unreadable++
      else if (entry.numbers.size < MAX_CONTACT_NUMBERS) entry.numbers.add(number)
    }
    if (entry.name !== '') byId.set(d.id, entry)
  }
  const events: ContactEvent[] = []
  for (const [id, { name, numbers }] of byId) {
    if (numbers.size === 0) continue
    const list = [...numbers].sort()
    const now = current(id)
    if (now != null && now.name === name && now.numbers === JSON.stringify(list)) continue
    events.push({ type: 'contact', id, name, numbers: list, at })
  }
  return { events, unreadable }
}
