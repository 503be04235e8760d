import { ControlError } from './contract.ts'
import type { ControlRequest } from './router.ts'

/** The request's JSON object body with only `allowed` fields; 400 otherwise. */
export function objectBody (req: ControlRequest, allowed: string[]): Record<string, unknown> {
  const body = req.body
  if (body == null || typeof body !== 'object' || Array.isArray(body)) throw new ControlError(400, 'invalid_body', 'the request body must be a JSON object')
  const extra = Object.keys(body).filter(k => !allowed.includes(k))
  if (extra.length > 0) throw new ControlError(400, 'unknown_field', `unknown field(s): ${extra.join(', ')}; allowed: ${allowed.join(', ')}`)
  return body as Record<string, unknown>
}

/** A non-empty string field of at most `max` characters; 400 otherwise. */
export function text (body: Record<string, unknown>, field: string, max = 200): string {
  const value = body[field]
  if (typeof value !== 'string' || value === '' || value.length > max) throw new ControlError(400, 'invalid_body', `${field} must be a non-empty string of at most ${max} characters`)
  return value
}
