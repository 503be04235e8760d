import { useRef, useState } from 'preact/hooks'
import { api, type DeviceEntry, type MessageView } from '../api.ts'
import { Icon } from '../icons.tsx'
import { MAX_PARTS, MULTI_SEPTETS } from '../../../sms/codec/plan.ts'
import { countSms } from './counter.ts'

/** Devices of the account that can send SMS (their own phone line). */
export function phonesOf (devices: DeviceEntry[] | undefined): DeviceEntry[] {
  return (devices ?? []).filter(d => d.relation !== 'nearby' && d.capabilities.includes('sms.send'))
}

function PhoneChoice ({ phones, value, onChange }: { phones: DeviceEntry[], value: string, onChange: (id: string) => void }) {
  if (phones.length === 0) return <span class='muted small' role='note'>No phone among your devices yet: messages wait until one is there.</span>
  if (phones.length === 1) {
    const only = phones[0] as DeviceEntry
    return <span class='muted small'>via {only.name}{only.relation !== 'self' && !only.online ? ' (offline: sends when it is back)' : ''}</span>
  }
  return (
    <label class='small phone-choice'>
      <span>Send via</span>
      <select value={value} onChange={(e) => { onChange((e.target as HTMLSelectElement).value) }}>
        <option value=''>Best available phone</option>
        {phones.map(p => <option key={p.id} value={p.id}>{p.name}{p.relation === 'self' || p.online ? '' : ' (offline)'}{p.sim?.carrier == null ? '' : ` · ${p.sim.carrier}`}</option>)}
      </select>
    </label>
  )
}

/**
 * Write and send: Enter sends, Shift+Enter starts a new line. Shows what the text costs
 * (parts, GSM-7 or UCS-2, what is left in the last part) as the user types.
 */
export function Composer ({ to, devices, onSent, disabledReason }: { to: string[], devices: DeviceEntry[] | undefined, onSent: (message: MessageView) => void, disabledReason?: string }) {
  const [text, setText] = useState('')
  const [via, setVia] = useState('')
  const [sending, setSending] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const input = useRef<HTMLTextAreaElement>(null)
  const count = countSms(text)
  const blocked = disabledReason ?? (text.trim() === '' ? 'Type a message' : undefined)

  const send = async (): Promise<void> => {
    if (blocked != null || sending) return
    setSending(true)
    setError(undefined)
    try {
      const { id } = await api.send(to, text, via === '' ? undefined : via)
      setText('')
      onSent(await api.message(id))
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setSending(false)
      input.current?.focus()
    }
  }

  return (
    <form class='composer' onSubmit={(e) => { e.preventDefault(); void send() }} aria-label='Write a message'>
      {error != null && <p class='error' role='alert'>{error}</p>}
      <div class='composer-row'>
        <textarea
          ref={input} rows={1} value={text} placeholder='Text message' aria-label='Message text'
          aria-describedby='sms-counter' maxLength={MAX_PARTS * MULTI_SEPTETS}
          onInput={(e) => { setText((e.target as HTMLTextAreaElement).value) }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault()
              void send()
            }
          }}
        />
        <button class='button primary icon-only send' type='submit' disabled={blocked != null || sending} aria-label='Send' title={blocked ?? 'Send (Enter)'}>
          <Icon name='send' />
        </button>
      </div>
      <div class='composer-foot'>
        <PhoneChoice phones={phonesOf(devices)} value={via} onChange={setVia} />
        <span id='sms-counter' class='counter small' data-testid='counter' aria-live='polite'>
          {`${count.parts} SMS · ${count.encoding} · ${count.left} left`}
        </span>
      </div>
    </form>
  )
}
