import { useRef, useState } from 'preact/hooks'
import { api, receivedFileUrl, type DeviceEntry, type ShareView } from '../api.ts'
import { formatBytes } from '../../../blobs/blob-ref.ts'
import { Icon } from '../icons.tsx'

/** One transfer's line: its name, a bar while it moves, and why it stopped. */
function Transfer ({ t }: { t: ShareView }) {
  const pct = t.size === 0 ? 100 : Math.floor(100 * t.bytes / t.size)
  return (
    <li class={`transfer ${t.state}`} data-state={t.state}>
      <span class='name'>{t.kind === 'text' ? `“${t.name}”` : t.name}</span>
      {(t.state === 'sending' || t.state === 'paused' || t.state === 'queued') && <progress max={100} value={pct} aria-label={`${t.name}: ${pct} %`} />}
      <span class='small muted'>{t.state === 'done' ? `sent · ${formatBytes(t.size)}` : t.state === 'failed' ? `failed: ${t.reason ?? ''}` : `${t.state} · ${formatBytes(t.bytes)} of ${formatBytes(t.size)}`}</span>
      {(t.state === 'sending' || t.state === 'paused' || t.state === 'queued') && <button type='button' class='button ghost small' onClick={() => { void api.cancelShare(t.id) }}>Cancel</button>}
    </li>
  )
}

/** On a device of yours: drop files on it (or pick them) to send them there, and see them go. */
export function ShareDrop ({ device, transfers }: { device: DeviceEntry, transfers: ShareView[] }) {
  const [over, setOver] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const picker = useRef<HTMLInputElement>(null)
  const send = async (files: File[]): Promise<void> => {
    setError(undefined)
    for (const file of files) {
      try { await api.shareFile(file, [device.id]) } catch (err) { setError((err as Error).message) }
    }
  }
  const mine = transfers.filter(t => t.direction === 'out' && t.device === device.id).slice(0, 5)
  return (
    <div
      class={`share-drop ${over ? 'over' : ''}`}
      onDragOver={(e) => { e.preventDefault(); setOver(true) }}
      onDragLeave={() => { setOver(false) }}
      onDrop={(e) => { e.preventDefault(); setOver(false); void send([...(e.dataTransfer?.files ?? [])]) }}
    >
      <input ref={picker} type='file' multiple hidden aria-hidden='true' tabIndex={-1} onChange={(e) => { const input = e.target as HTMLInputElement; void send([...(input.files ?? [])]); input.value = '' }} />
      <button type='button' class='button ghost' onClick={() => { picker.current?.click() }}>
        <Icon name='file' size={18} /> Send files to {device.name}
      </button>
      <span class='small muted'> or drop them here</span>
      {error != null && <p class='error' role='alert'>{error}</p>}
      {mine.length > 0 && <ul class='transfers' aria-label={`Files to ${device.name}`}>{mine.map(t => <Transfer key={t.id} t={t} />)}</ul>}
    </div>
  )
}

/** What your other devices sent here: files to open or save, snippets to copy. */
export function Received ({ transfers, names }: { transfers: ShareView[], names: (id: string) => string }) {
  const incoming = transfers.filter(t => t.direction === 'in').slice(0, 50)
  const [copied, setCopied] = useState<string | undefined>(undefined)
  return (
    <section aria-labelledby='h-received'>
      <h2 id='h-received'>Received</h2>
      {incoming.length === 0 && <p class='muted'>Nothing yet. Files and snippets your other devices send here appear in this list (and in your downloads folder).</p>}
      {incoming.length > 0 && (
        <ul class='received'>
          {incoming.map(t => (
            <li key={`${t.id} ${t.device}`} class={`transfer ${t.state}`}>
              {t.kind === 'text'
                ? (
                  <>
                    <p class='snippet'>{t.text}</p>
                    <button type='button' class='button ghost small' onClick={() => { void navigator.clipboard.writeText(t.text ?? '').then(() => { setCopied(t.id) }) }}>{copied === t.id ? 'Copied' : 'Copy'}</button>
                  </>
                  )
                : t.state === 'done'
                  ? <a href={receivedFileUrl(t.id, t.device)} download={t.name}><Icon name='file' size={16} /> {t.name}</a>
                  : <span>{t.name} <span class='small muted'>{t.state} · {formatBytes(t.bytes)} of {formatBytes(t.size)}</span></span>}
              <span class='small muted'> · from {names(t.device)}{t.kind === 'file' ? ` · ${formatBytes(t.size)}` : ''}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
