/** The shape of attachments: limits, names, media types (checked on every event and request; the page uses them too). */
import { BLOB_HASH, formatBytes } from '../blobs/blob-ref.ts'
import type { Attachment } from './view-types.ts'

/** An attachment is at most this large (what a text device to device may carry). */
export const MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
/** Files one text carries at most. */
export const MAX_ATTACHMENTS = 10
const MAX_NAME = 255
/** A media type, as `type/subtype` without parameters. */
export const TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/

/** Images a page may show inline: formats a browser decodes as pictures only (not SVG: it runs scripts). */
export const INLINE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif'])

/** A file name as shown and saved: no directories, no control characters, not empty, not `.`/`..`. */
export function safeName (name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^\.+$/, '_').trim().slice(0, MAX_NAME)
  return cleaned === '' ? 'file' : cleaned
}

/** The attachments of a message from the network or a request: exactly this shape, or throws `fail`'s error. */
export function checkAttachments (value: unknown, fail: (what: string) => never): Attachment[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ATTACHMENTS) fail(`attachments: 1 to ${MAX_ATTACHMENTS} files`)
  return value.map((a: unknown) => {
    if (a == null || typeof a !== 'object') fail('an attachment is not an object')
    const { sha256, size, name, type } = a as Record<string, unknown>
    if (typeof sha256 !== 'string' || !BLOB_HASH.test(sha256)) fail('an attachment\'s sha256 is not 64 hex digits')
    if (!Number.isSafeInteger(size) || (size as number) < 1 || (size as number) > MAX_ATTACHMENT_BYTES) fail(`an attachment's size is not 1 byte to ${formatBytes(MAX_ATTACHMENT_BYTES)}`)
    if (typeof name !== 'string' || name === '' || name.length > MAX_NAME || safeName(name) !== name) fail('an attachment\'s name is not a plain file name')
    if (typeof type !== 'string' || !TYPE.test(type)) fail('an attachment\'s type is not a media type')
    return { sha256, size: size as number, name, type }
  })
}
