import { readFile, stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { MAX_VCARD_BYTES, type SmsService, type SmsStatus } from '../../sms/index.ts'
import type { DeviceDirectory } from '../devices.ts'
import { ControlError, type ImportLine } from './contract.ts'
import { objectBody, text } from './body.ts'
import { jsonRoute, streamRoute, type ControlRequest, type Route } from './router.ts'
import { API } from './contract.ts'

const WAITABLE: SmsStatus[] = ['accepted', 'sent', 'delivered']

function intQuery (req: ControlRequest, name: string, min: number, max: number): number | undefined {
  const raw = req.query.get(name)
  if (raw == null) return undefined
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) throw new ControlError(400, 'invalid_query', `${name} must be a whole number from ${min} to ${max}`)
  return value
}

/** Messages: send, list, conversations, read, wait for a status. */
export function smsRoutes (sms: SmsService, directory: DeviceDirectory): Route[] {
  return [
    jsonRoute(API.send, async (req) => {
      const body = objectBody(req, ['to', 'body', 'via', 'route', 'attachments'])
      if (body.attachments !== undefined && !Array.isArray(body.attachments)) throw new ControlError(400, 'invalid_body', 'attachments must be a list of uploaded files (what POST /v1/attachments answered)')
      if (body.route !== undefined && body.route !== 'network' && body.route !== 'sms') throw new ControlError(400, 'invalid_body', 'route is network or sms (or absent: the cheapest that works)')
      if (!Array.isArray(body.to) || !body.to.every(t => typeof t === 'string')) throw new ControlError(400, 'invalid_body', 'to must be a list of phone numbers')
      if (typeof body.body !== 'string') throw new ControlError(400, 'invalid_body', 'body must be the text to send')
      const via = body.via === undefined ? undefined : await directory.find(text(body, 'via'))
      const device = via == null ? undefined : { id: via.id, relation: via.relation, capabilities: via.capabilities.map(name => ({ name })) }
      return await sms.send({ to: body.to as string[], body: body.body, via: device, ...(body.route === undefined ? {} : { route: body.route as 'network' | 'sms' }), ...(body.attachments === undefined ? {} : { attachments: body.attachments as unknown[] }) })
    }),
    jsonRoute(API.messages, (req) => sms.list({
      with: req.query.get('with') ?? undefined,
      search: req.query.get('search') ?? undefined,
      limit: intQuery(req, 'limit', 1, 10_000),
      before: intQuery(req, 'before', 0, Number.MAX_SAFE_INTEGER)
    })),
    jsonRoute(API.conversations, () => sms.conversations()),
    jsonRoute(API.message, (req) => sms.get(req.params.id ?? '')),
    jsonRoute(API.read, async (req) => await sms.read(text(objectBody(req, ['target']), 'target'))),
    // progress lines while the phone's store is read, then the outcome: `companion sms import`
    streamRoute(API.importHistory, async (req, res) => {
      const body = objectBody(req, ['since', 'via'])
      if (body.since !== undefined && !(Number.isSafeInteger(body.since) && (body.since as number) >= 0)) throw new ControlError(400, 'invalid_body', 'since must be a time in ms since 1970')
      const found = body.via === undefined ? undefined : await directory.find(text(body, 'via'))
      const via = found == null ? undefined : { id: found.id, relation: found.relation, capabilities: found.capabilities.map(name => ({ name })) }
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
      const line = (value: ImportLine): void => { if (!res.writableEnded) res.write(JSON.stringify(value) + '\n') }
      sms.importHistory({
        ...(via == null ? {} : { via }),
        ...(body.since === undefined ? {} : { since: body.since as number }),
        onProgress: (p) => { if (!p.done) line({ event: 'progress', scanned: p.scanned, added: p.added }) }
      }).then(
        (report) => { line({ event: 'done', scanned: report.scanned, added: report.added, contacts: report.contacts ?? 0 }) },
        (err: Error) => { line({ event: 'failed', message: err.message }) }
      ).finally(() => { res.end() })
    }),
    jsonRoute(API.contacts, () => sms.contacts()),
    jsonRoute(API.importContacts, async (req) => {
      const path = text(objectBody(req, ['path']), 'path', 4096)
      if (!isAbsolute(path)) throw new ControlError(400, 'invalid_body', 'path must be absolute')
      let content: string
      try {
        if ((await stat(path)).size > MAX_VCARD_BYTES) throw new ControlError(400, 'invalid_body', `${path} is larger than ${MAX_VCARD_BYTES / 1024 / 1024} MB`)
        content = await readFile(path, 'utf8')
      } catch (err) {
        if (err instanceof ControlError) throw err
        throw new ControlError(400, 'unreadable_file', `the daemon cannot read ${path}: ${(err as Error).message}`)
      }
      return await sms.importVCard(content)
    }),
    // one line once the message reaches the status (or fails): `companion sms send --wait`
    streamRoute(API.waitFor, (req, res) => {
      const status = req.query.get('status') as SmsStatus
      if (!WAITABLE.includes(status)) throw new ControlError(400, 'invalid_query', `status must be one of ${WAITABLE.join(', ')}`)
      const abort = new AbortController()
      res.on('close', () => { abort.abort() })
      sms.get(req.params.id ?? '')
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' })
      sms.waitFor(req.params.id ?? '', status, abort.signal).then(
        (message) => { res.end(JSON.stringify(message) + '\n') },
        () => { res.end() }
      )
    })
  ]
}
