import { useRef, useState } from 'preact/hooks'
import { api, type Attachment, type DeviceEntry, type MessageView } from '../api.ts'
import { Icon } from '../icons.tsx'
import { MAX_PARTS, MULTI_SEPTETS } from '../../../sms/codec/plan.ts'
import { countSms } from './counter.ts'
import { Picked } from './files.tsx'
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS } from '../../../sms/attachment-shape.ts'

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
export function Composer ({ to, devices, onSent, disabledReason, verified = false }: { to: string[], devices: DeviceEntry[] | undefined, onSent: (message: MessageView) => void, disabledReason?: string, verified?: boolean }) {
  const [text, setText] = useState('')
  const [files, setFiles] = useState<Array<Attachment | { name: string, uploading: true }>>([])
  const picker = useRef<HTMLInputElement>(null)
  const uploaded = files.filter((f): f is Attachment => !('uploading' in f))
  const pick = async (list: FileList | null): Promise<void> => {
    const chosen = [...(list ?? [])]
    if (picker.current != null) picker.current.value = ''
    const tooBig = chosen.find(f => f.size > MAX_ATTACHMENT_BYTES)
    if (tooBig != null) { setError(`${tooBig.name} is larger than ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB`); return }
    if (files.length + chosen.length > MAX_ATTACHMENTS) { setError(`a text carries at most ${MAX_ATTACHMENTS} files`); return }
    setError(undefined)
    for (const file of chosen) {
      const placeholder = { name: file.name, uploading: true as const }
      setFiles(now => [...now, placeholder])
      try {
        const done = await api.upload(file)
        setFiles(now => now.map(f => f === placeholder ? done : f))
      } catch (err) {
        setFiles(now => now.filter(f => f !== placeholder))
        setError((err as Error).message)
      }
    }
  }
  const [via, setVia] = useState('')
  const [sending, setSending] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const input = useRef<HTMLTextAreaElement>(null)
  const count = countSms(text)
  const blocked = disabledReason ?? (files.some(f => 'uploading' in f) ? 'Wait for the files to upload' : text.trim() === '' && uploaded.length === 0 ? 'Type a message' : undefined)

  const send = async (): Promise<void> => {
    if (blocked != null || sending) return
    setSending(true)
    setError(undefined)
    try {
      const { id } = await api.send(to, text, via === '' || uploaded.length > 0 ? undefined : via, uploaded)
      setText('')
      setFiles([])
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
      <Picked files={files} onRemove={(i) => { setFiles(now => now.filter((_f, j) => j !== i)) }} />
      <div class='composer-row'>
        <input ref={picker} type='file' multiple hidden aria-hidden='true' tabIndex={-1} onChange={(e) => { void pick((e.target as HTMLInputElement).files) }} />
        <button
          class='button ghost icon-only attach' type='button' disabled={!verified}
          aria-label='Attach files'
          title={verified ? 'Attach pictures or files (up to 25 MiB each): they go device to device' : 'Files go only device to device, to a verified companion-link number (no phone here sends MMS)'}
          onClick={() => { picker.current?.click() }}
        >
          <Icon name='attach' />
        </button>
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
