import { ControlError } from './contract.ts'
import type { IdentityApi } from '../identity.ts'
import { jsonRoute, streamRoute, type Route } from './router.ts'
import { API, type PairLine } from './contract.ts'
import { objectBody, text } from './body.ts'

/** Pairing, unpairing and grants. */
export function identityRoutes (api: IdentityApi): Route[] {
  return [
    // a long answer, one JSON object per line: {"event":"code"}, then {"event":"paired"} or {"event":"failed"}
    streamRoute(API.pair, (req, res) => {
      const body = objectBody(req, ['device', 'timeoutS'])
      const device = text(body, 'device')
      const timeoutS = body.timeoutS
      if (timeoutS !== undefined && !(Number.isInteger(timeoutS) && (timeoutS as number) >= 1 && (timeoutS as number) <= 600)) {
        throw new ControlError(400, 'invalid_body', 'timeoutS must be a whole number of seconds from 1 to 600')
      }
      const abort = new AbortController()
      res.on('close', () => { abort.abort() })
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
      const line = (value: PairLine): void => { if (!res.writableEnded) res.write(JSON.stringify(value) + '\n') }
      api.join(device, {
        timeoutMs: timeoutS === undefined ? undefined : (timeoutS as number) * 1000,
        signal: abort.signal,
        onCode: (code) => { line({ event: 'code', code }) }
      }).then(
        (result) => { line({ event: 'paired', ...result }) },
        (err: Error) => { line({ event: 'failed', message: err.message }) }
      ).finally(() => { res.end() })
    }),
    jsonRoute(API.pairRequests, () => api.requests()),
    jsonRoute(API.pairAccept, async (req) => {
      const body = objectBody(req, ['device', 'code'])
      return await api.accept(text(body, 'device'), text(body, 'code'))
    }),
    jsonRoute(API.pairReject, (req) => api.reject(text(objectBody(req, ['device']), 'device'))),
    jsonRoute(API.unpair, async (req) => await api.unpair(text(objectBody(req, ['device']), 'device'))),
    jsonRoute(API.grants, async () => await api.grants()),
    jsonRoute(API.setGrant, async (req) => {
      const body = objectBody(req, ['device', 'capability', 'allowed'])
      if (typeof body.allowed !== 'boolean') throw new ControlError(400, 'invalid_body', 'allowed must be true or false')
      return await api.setGrant(text(body, 'device'), text(body, 'capability'), body.allowed)
    })
  ]
}
