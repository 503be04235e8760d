import { INLINE_TYPES, MAX_ATTACHMENT_BYTES, type SmsService } from '../../sms/index.ts'
import { API, ControlError } from './contract.ts'
import { bytesRoute, sendFile, sendJson, type Route } from './router.ts'

/** Opening an attachment not held here waits this long for a device of the account to give it. */
const FETCH_FOR_OPEN_MS = 120_000

/**
 * Files of texts: an upload (the body is the file; a send then names it) and an attachment's
 * bytes, fetched from a device of the account first when this one does not hold it. What
 * another account sent is served so that a page cannot be made to run it: only raster images
 * inline, everything else as a download, sandboxed either way.
 */
export function attachmentRoutes (sms: SmsService): Route[] {
  return [
    bytesRoute(API.upload, async (req, body, res) => {
      const name = req.query.get('name') ?? ''
      if (name === '' || name.length > 1024) throw new ControlError(400, 'invalid_query', 'name must be the file\'s name (at most 1024 characters)')
      if (Number(body.headers['content-length'] ?? 0) > MAX_ATTACHMENT_BYTES) throw new ControlError(413, 'body_too_large', `an attachment is at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB`)
      const type = (body.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
      sendJson(res, 201, await sms.attachments.upload(body, name, type))
    }),
    bytesRoute(API.attachment, async (req, _body, res) => {
      const index = Number(req.params.index)
      if (!Number.isInteger(index) || index < 0 || index > 99) throw new ControlError(400, 'invalid_path', 'index is the attachment\'s place in the message, from 0')
      const gone = new AbortController()
      res.on('close', () => { gone.abort() })
      const file = await sms.attachments.open(req.params.id ?? '', index, AbortSignal.any([gone.signal, AbortSignal.timeout(FETCH_FOR_OPEN_MS)]))
      // a message's attachment never changes
      await sendFile(res, { ...file, inline: INLINE_TYPES.has(file.type) && req.query.get('download') == null, cache: 'private, max-age=31536000, immutable' })
    })
  ]
}
