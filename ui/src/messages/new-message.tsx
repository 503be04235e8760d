import { useState } from 'preact/hooks'
import type { DeviceEntry } from '../api.ts'
import { conversationOf, normalizeNumber } from '../../../sms/codec/numbers.ts'
import { conversationHref, navigate } from '../route.ts'
import { Icon } from '../icons.tsx'
import { Composer } from './composer.tsx'

/** The numbers typed so far (separated by commas or semicolons; spaces, dashes and brackets inside a number are fine), or why they are not numbers. */
function parseRecipients (text: string): { numbers: string[], problem?: string } {
  const parts = text.split(/[,;\n]+/).map(p => p.trim()).filter(Boolean)
  if (parts.length === 0) return { numbers: [], problem: 'Type a phone number' }
  const numbers: string[] = []
  for (const part of parts) {
    try {
      numbers.push(normalizeNumber(part))
    } catch {
      return { numbers, problem: `“${part}” is not a phone number (use +<country code><number>)` }
    }
  }
  return { numbers }
}

/** A new conversation: recipients, then the composer; once sent, the conversation opens. */
export function NewMessage ({ devices }: { devices: DeviceEntry[] | undefined }) {
  const [to, setTo] = useState('')
  const { numbers, problem } = parseRecipients(to)
  return (
    <div class='thread'>
      <header class='pane-head thread-head'>
        <a class='button ghost icon-only back' href='#/messages' aria-label='Back to conversations'><Icon name='back' /></a>
        <h2>New message</h2>
      </header>
      <div class='recipients'>
        <label for='recipients'>To</label>
        <input
          id='recipients' type='text' inputMode='tel' autoComplete='off' placeholder='+15551234567, +447700900123'
          value={to} onInput={(e) => { setTo((e.target as HTMLInputElement).value) }} aria-invalid={to !== '' && problem != null}
          aria-describedby='recipients-help'
        />
      </div>
      <p id='recipients-help' class='muted small pad'>{to !== '' && problem != null ? problem : 'One or several numbers, separated by commas.'}</p>
      <div class='scroller' />
      <Composer to={numbers} devices={devices} disabledReason={problem} onSent={(m) => { navigate(conversationHref(m.conversation ?? conversationOf(numbers))) }} />
    </div>
  )
}
