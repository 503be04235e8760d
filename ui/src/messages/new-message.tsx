import { useEffect, useState } from 'preact/hooks'
import { api, type ContactView, type DeviceEntry } from '../api.ts'
import { conversationOf, normalizeNumber } from '../../../sms/codec/numbers.ts'
import { displayNumber } from '../format.ts'
import { conversationHref, navigate } from '../route.ts'
import { Icon } from '../icons.tsx'
import { Composer } from './composer.tsx'

/** A person's number, as the recipient field offers it. */
interface Match { name: string, number: string }

/** Suggestions shown for the name being typed. */
const MAX_SUGGESTIONS = 8

/** Contacts' numbers whose name holds `text` (any case), exact names first. */
function matchesOf (contacts: ContactView[], text: string): Match[] {
  const wanted = text.trim().toLowerCase()
  if (wanted === '') return []
  const all = contacts.filter(c => c.name.toLowerCase().includes(wanted)).flatMap(c => c.numbers.map(number => ({ name: c.name, number })))
  return all.sort((a, b) => Number(b.name.toLowerCase() === wanted) - Number(a.name.toLowerCase() === wanted) || a.name.localeCompare(b.name))
}

/**
 * The recipients typed so far (separated by commas or semicolons): numbers (spaces, dashes and
 * brackets inside are fine), or names of contacts, a name with one number being that number.
 */
function parseRecipients (text: string, contacts: ContactView[]): { numbers: string[], problem?: string } {
  const parts = text.split(/[,;\n]+/).map(p => p.trim()).filter(Boolean)
  if (parts.length === 0) return { numbers: [], problem: 'Type a phone number or a name' }
  const numbers: string[] = []
  for (const part of parts) {
    try {
      numbers.push(normalizeNumber(part))
      continue
    } catch {}
    const matches = matchesOf(contacts, part)
    const exact = matches.filter(m => m.name.toLowerCase() === part.toLowerCase())
    const one = exact.length === 1 ? exact[0] : matches.length === 1 ? matches[0] : undefined
    if (one != null) { numbers.push(one.number); continue }
    if (matches.length > 1) return { numbers, problem: `“${part}” has several numbers: pick one below` }
    return { numbers, problem: `“${part}” is not a phone number (use +<country code><number>) nor a contact's name` }
  }
  return { numbers }
}

/** A new conversation: recipients (numbers or contacts' names), then the composer; once sent, the conversation opens. */
export function NewMessage ({ devices }: { devices: DeviceEntry[] | undefined }) {
  const [to, setTo] = useState('')
  const [contacts, setContacts] = useState<ContactView[]>([])
  useEffect(() => { api.contacts().then(setContacts, () => {}) }, [])
  const { numbers, problem } = parseRecipients(to, contacts)
  // suggestions for the part being typed, unless it is a number already
  const typing = to.split(/[,;\n]/).at(-1) ?? ''
  const suggestions = /^[\s+\d()-]*$/.test(typing) ? [] : matchesOf(contacts, typing).slice(0, MAX_SUGGESTIONS)
  const pick = (m: Match): void => { setTo(to.slice(0, to.length - typing.length) + (to.length > typing.length ? ' ' : '') + m.number) }
  return (
    <div class='thread'>
      <header class='pane-head thread-head'>
        <a class='button ghost icon-only back' href='#/messages' aria-label='Back to conversations'><Icon name='back' /></a>
        <h2>New message</h2>
      </header>
      <div class='recipients'>
        <label for='recipients'>To</label>
        <input
          id='recipients' type='text' autoComplete='off' placeholder='A name, or +15551234567'
          value={to} onInput={(e) => { setTo((e.target as HTMLInputElement).value) }} aria-invalid={to !== '' && problem != null}
          aria-describedby='recipients-help' aria-controls={suggestions.length > 0 ? 'recipient-suggestions' : undefined}
        />
      </div>
      {suggestions.length > 0 && (
        <ul id='recipient-suggestions' class='suggestions' aria-label='Contacts'>
          {suggestions.map(m => (
            <li key={`${m.name} ${m.number}`}>
              <button type='button' class='button ghost suggestion' onClick={() => { pick(m) }}>{m.name} <span class='muted'>{displayNumber(m.number)}</span></button>
            </li>
          ))}
        </ul>
      )}
      <p id='recipients-help' class='muted small pad'>{to !== '' && problem != null ? problem : numbers.length > 0 ? `To ${numbers.map(displayNumber).join(', ')}` : 'Names of contacts or numbers, separated by commas.'}</p>
      <div class='scroller' />
      <Composer to={numbers} devices={devices} disabledReason={problem} onSent={(m) => { navigate(conversationHref(m.conversation ?? conversationOf(numbers))) }} />
    </div>
  )
}
