import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { OUTCOME_UNKNOWN } from '../sms/constants.ts'
import { SMS_DB_FILE } from '../sms/service.ts'
import type { Device } from '../testbed/index.ts'
import type { Carried } from '../testbed/sms.ts'
import type { AcceptedText, IncomingText } from './load.ts'

/** Where a text may end; anything else after the load stopped is a text still owed. */
const FINAL = new Set(['sent', 'delivered', 'failed', 'unauthorized'])

interface Row { id: string, direction: string, body: string, status: string, reason: string | null, read: number, via: string | null }

/** What a device holds, read from its database beside the running daemon (read-only, WAL). */
function holdings (device: Device): Map<string, Row> {
  const db = new DatabaseSync(join(device.dataDir, SMS_DB_FILE), { readOnly: true })
  try {
    const rows = db.prepare('SELECT id, direction, body, status, reason, read, via FROM messages').all() as unknown as Row[]
    return new Map(rows.map(r => [r.id, r]))
  } finally {
    db.close()
  }
}

/** Every way the devices do not (yet) agree on what the load did; empty once they converged. */
export function disagreements (devices: Array<{ name: string, device: Device }>, accepted: AcceptedText[], incoming: IncomingText[]): string[] {
  const problems: string[] = []
  const down = devices.filter(d => !d.device.running)
  if (down.length > 0) return [`not running: ${down.map(d => d.name).join(', ')}`]
  const held = devices.map(d => ({ name: d.name, rows: holdings(d.device) }))
  const [first, ...rest] = held
  if (first == null) return ['no devices']
  for (const text of accepted) {
    const row = first.rows.get(text.id)
    if (row == null) problems.push(`${first.name} lacks ${text.id} (${text.body.slice(0, 20)})`)
    else if (!FINAL.has(row.status)) problems.push(`${text.id} still ${row.status} on ${first.name} (written on ${text.device} at ${new Date(text.at).toISOString().slice(11, 19)}, ${row.via == null ? 'handed to no phone' : `handed to ${row.via.slice(-8)}`})`)
    else if ((row.status === 'failed' || row.status === 'unauthorized') && (row.reason ?? '') === '') problems.push(`${text.id} ${row.status} with no reason`)
  }
  for (const other of rest) {
    const lacking = [...first.rows.values()].filter(r => !other.rows.has(r.id))
    if (lacking.length > 0) problems.push(`${other.name} lacks ${lacking.length} of ${first.rows.size} messages ${first.name} holds (${lacking.filter(r => r.direction === 'in').length} incoming), e.g. "${lacking[0]?.body.slice(0, 24) ?? ''}"`)
    for (const [id, row] of first.rows) {
      const there = other.rows.get(id)
      if (there == null) continue
      else if (there.status !== row.status || there.read !== row.read) problems.push(`${id}: ${first.name} ${row.status}/${row.read}, ${other.name} ${there.status}/${there.read}`)
    }
    const extra = [...other.rows.keys()].filter(id => !first.rows.has(id))
    if (extra.length > 0) problems.push(`${first.name} lacks ${extra.length} messages ${other.name} holds, e.g. ${extra[0] ?? ''}`)
  }
  for (const { name, rows } of held) {
    const bodies = new Map<string, number>()
    for (const row of rows.values()) if (row.direction === 'in') bodies.set(row.body, (bodies.get(row.body) ?? 0) + 1)
    for (const text of incoming) {
      const n = bodies.get(text.body) ?? 0
      if (n !== 1) problems.push(`${name} holds "${text.body}" ${n} times`)
    }
  }
  return problems
}

/** Poll `disagreements` until none remain or `timeoutMs` passes: ms taken, and what was left. */
export async function converge (devices: Array<{ name: string, device: Device }>, accepted: AcceptedText[], incoming: IncomingText[], timeoutMs: number): Promise<{ ms: number, left: string[] }> {
  const start = Date.now()
  let left: string[] = []
  while (true) {
    try {
      left = disagreements(devices, accepted, incoming)
    } catch (err) {
      left = [`cannot read a database: ${(err as Error).message}`]
    }
    if (left.length === 0 || Date.now() - start > timeoutMs) return { ms: Date.now() - start, left }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/**
 * Each accepted text carried exactly once per recipient when it ended sent/delivered; never when
 * it failed, except "outcome unknown" (the phone died between handing it to the network and
 * hearing back: it may have left, once, and is never sent again).
 */
export function carriedOnce (log: Carried[], accepted: AcceptedText[], ended: (id: string) => { status: string, reason: string | null } | undefined): string[] {
  const problems: string[] = []
  const counts = new Map<string, number>()
  for (const e of log) counts.set(`${e.to}\n${e.body}`, (counts.get(`${e.to}\n${e.body}`) ?? 0) + 1)
  for (const text of accepted) {
    const end = ended(text.id)
    const status = end?.status
    for (const to of text.to) {
      const n = counts.get(`${to}\n${text.body}`) ?? 0
      const wanted = status === 'sent' || status === 'delivered' ? [1] : end?.reason?.includes(OUTCOME_UNKNOWN) === true ? [0, 1] : [0]
      if (!wanted.includes(n)) problems.push(`${text.id} (${status ?? '?'}${end?.reason == null ? '' : `: ${end.reason}`}) carried ${n} times to ${to}`)
    }
  }
  return problems
}

/** How each message ended on `device` (after convergence all agree). */
export function endings (device: Device): (id: string) => { status: string, reason: string | null } | undefined {
  const rows = holdings(device)
  return (id) => rows.get(id)
}

/** Error lines the daemons wrote (they log errors only, by default); none is expected. */
export function errorLines (devices: Array<{ name: string, device: Device }>): string[] {
  return devices.flatMap(({ name, device }) => device.log.split('\n').filter(l => l.trim() !== '').map(l => `${name}: ${l}`))
}
