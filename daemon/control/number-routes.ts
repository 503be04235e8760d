import type { NumberChecks } from '../../sms/index.ts'
import type { NumberVerification } from '../number-verification.ts'
import { API, type VerifyLine } from './contract.ts'
import { objectBody, text } from './body.ts'
import { jsonRoute, streamRoute, type Route } from './router.ts'

/** Numbers of other accounts: the bindings, and verifying one. */
export function numberRoutes (verification: NumberVerification, checks: NumberChecks): Route[] {
  return [
    jsonRoute(API.numbers, () => checks.list()),
    // lines while it runs (the code SMS and its proof take seconds), then the outcome
    streamRoute(API.verifyNumber, (req, res) => {
      const number = text(objectBody(req, ['number']), 'number', 40)
      const abort = new AbortController()
      res.on('close', () => { abort.abort() })
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
      const line = (value: VerifyLine): void => { if (!res.writableEnded) res.write(JSON.stringify(value) + '\n') }
      verification.verify(number, line, abort.signal).then(
        (bound) => { line({ event: 'verified', ...bound }) },
        (err: Error) => { line({ event: 'failed', message: err.message }) }
      ).finally(() => { res.end() })
    })
  ]
}
