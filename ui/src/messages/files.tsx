import { attachmentUrl, type Attachment, type AttachmentView } from '../api.ts'
import { INLINE_TYPES } from '../../../sms/attachment-shape.ts'
import { formatBytes } from '../../../blobs/blob-ref.ts'
import { Icon } from '../icons.tsx'

/**
 * A message's files: pictures inline (a thumbnail; full size in a new tab on click), anything
 * else as a download. A file not on this device yet is fetched from another of the account's
 * devices when opened (the daemon does that), so every link works.
 */
export function Files ({ id, files }: { id: string, files: AttachmentView[] }) {
  if (files.length === 0) return null
  return (
    <ul class='files'>
      {files.map((f, i) => (
        <li key={f.sha256 + String(i)}>
          {INLINE_TYPES.has(f.type)
            ? (
              <a href={attachmentUrl(id, i)} target='_blank' rel='noopener' title={`${f.name} · ${formatBytes(f.size)} (full size)`}>
                <img class='thumb' src={attachmentUrl(id, i)} alt={f.name} loading='lazy' />
              </a>
              )
            : (
              <a class='file' href={attachmentUrl(id, i, true)} download={f.name} title={f.here ? 'on this device' : 'fetched from another of your devices when opened'}>
                <Icon name='file' size={18} /> <span class='name'>{f.name}</span> <span class='size'>{formatBytes(f.size)}</span>
              </a>
              )}
        </li>
      ))}
    </ul>
  )
}

/** Files picked for the next text, each uploaded already (or failing), with a way to take one out. */
export function Picked ({ files, onRemove }: { files: Array<Attachment | { name: string, uploading: true }>, onRemove: (index: number) => void }) {
  if (files.length === 0) return null
  return (
    <ul class='picked' aria-label='Files to send'>
      {files.map((f, i) => (
        <li key={`${f.name}-${i}`} class={'uploading' in f ? 'uploading' : ''}>
          <Icon name='file' size={16} /> <span class='name'>{f.name}</span>
          <span class='size muted'>{'uploading' in f ? 'uploading…' : formatBytes(f.size)}</span>
          <button type='button' class='button ghost icon-only small' aria-label={`Remove ${f.name}`} onClick={() => { onRemove(i) }}>×</button>
        </li>
      ))}
    </ul>
  )
}
