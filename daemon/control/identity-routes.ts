import { ControlError } from '../errors.ts'
import type { IdentityApi } from '../identity.ts'
import type { Route } from './router.ts'
import { objectBody, text } from './body.ts'

/** Pairing, unpairing and grants. */
export function identityRoutes (api: IdentityApi): Route[] {
  return [
    {
      // a long answer, one JSON object per line: {"event":"code"}, then {"event":"paired"} or {"event":"failed"}
      method: 'POST',
      path: '/v1/pair',
      stream: (req, res) => {
        const body = objectBody(req, ['device', 'timeoutS'])
        const device = text(body, 'device')
        const timeoutS = body.timeoutS
        if (timeoutS !== undefined && !(Number.isInteger(timeoutS) && (timeoutS as number) >= 1 && (timeoutS as number) <= 600)) {
          throw new ControlError(400, 'invalid_body', 'timeoutS must be a whole number of seconds from 1 to 600')
        }
        const abort = new AbortController()
        res.on('close', () => { abort.abort() })
        res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
        const line = (value: unknown): void => { if (!res.writableEnded) res.write(JSON.stringify(value) + '\n') }
        api.join(device, {
          timeoutMs: timeoutS === undefined ? undefined : (timeoutS as number) * 1000,
          signal: abort.signal,
          onCode: (code) => { line({ event: 'code', code }) }
        }).then(
          (result) => { line({ event: 'paired', ...result }) },
          (err: Error) => { line({ event: 'failed', message: err.message }) }
        ).finally(() => { res.end() })
      }
    },
    { method: 'GET', path: '/v1/pair/requests', json: () => api.requests() },
    {
      method: 'POST',
      path: '/v1/pair/accept',
      json: async (req) => {
        const body = objectBody(req, ['device', 'code'])
        return await api.accept(text(body, 'device'), text(body, 'code'))
      }
    },
    {
      method: 'POST',
      path: '/v1/pair/reject',
      json: (req) => api.reject(text(objectBody(req, ['device']), 'device'))
    },
    {
      method: 'POST',
      path: '/v1/unpair',
      json: async (req) => await api.unpair(text(objectBody(req, ['device']), 'device'))
    },
    { method: 'GET', path: '/v1/grants', json: async () => await api.grants() },
    {
      method: 'PUT',
      path: '/v1/grants',
      json: async (req) => {
        const body = objectBody(req, ['device', 'capability', 'allowed'])
        if (typeof body.allowed !== 'boolean') throw new ControlError(400, 'invalid_body', 'allowed must be true or false')
        return await api.setGrant(text(body, 'device'), text(body, 'capability'), body.allowed)
      }
    }
  ]
}
