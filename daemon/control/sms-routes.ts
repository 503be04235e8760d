import type { SmsService, SmsStatus } from '../../sms/index.ts'
import type { DeviceDirectory } from '../devices.ts'
import { ControlError } from './contract.ts'
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
      const body = objectBody(req, ['to', 'body', 'via'])
      if (!Array.isArray(body.to) || !body.to.every(t => typeof t === 'string')) throw new ControlError(400, 'invalid_body', 'to must be a list of phone numbers')
      if (typeof body.body !== 'string') throw new ControlError(400, 'invalid_body', 'body must be the text to send')
      const via = body.via === undefined ? undefined : await directory.find(text(body, 'via'))
      const device = via == null ? undefined : { id: via.id, relation: via.relation, capabilities: via.capabilities.map(name => ({ name })) }
      return await sms.send({ to: body.to as string[], body: body.body, via: device })
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
