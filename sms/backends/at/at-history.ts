import { createHash } from 'node:crypto'
import { logger } from '@libp2p/logger'
import type { StoredSms } from '../backend.ts'
import { decodePdu } from '../../codec/pdu.ts'

const log = logger('companion:sms:at')

/** The storages a modem keeps texts in (3GPP TS 27.005 §3.2.2): the SIM's, and the phone's (modem's) own. */
export const STORAGES = ['SM', 'ME'] as const
/** `+CMGL` stat: 0 received unread, 1 received read, 2 stored unsent, 3 stored sent. */
const STAT_READ = 1
const STAT_SENT = 3

export type AtCall = (command: string) => Promise<string[]>

/**
 * Runs storage work one piece at a time: `+CMGR`, `+CMGD` and `+CMGL` act on the storage
 * `+CPMS` chose last, so nothing may read or delete while a listing has another one chosen.
 */
export class StorageLock {
  private tail: Promise<unknown> = Promise.resolve()

  async run<T> (work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work)
    this.tail = result.catch(() => {})
    return await result
  }
}

interface Listed { stat: number, pdu: string }

/** `+CMGL: <index>,<stat>,[<alpha>],<length>` and the PDU line after it. */
export function parseCmgl (lines: string[]): Listed[] {
  const listed: Listed[] = []
  for (let i = 0; i < lines.length; i++) {
    const head = /^\+CMGL: *\d+, *(\d)/.exec(lines[i] ?? '')
    const pdu = lines[i + 1]
    if (head == null || pdu == null) continue
    i++
    listed.push({ stat: Number(head[1]), pdu: pdu.trim() })
  }
  return listed
}

const digest = (parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32)

/**
 * The texts among listed PDUs: received ones (SMS-DELIVER) and sent ones (SMS-SUBMIT stored
 * as sent), the parts of a long one joined (left out until all are there). A PDU has no
 * index that lasts (a storage reuses them), so a text's key is its PDUs.
 */
export function textsOf (listed: Listed[], now: number): StoredSms[] {
  const groups = new Map<string, { direction: 'in' | 'out', party: string, at: number, read: boolean, total: number, parts: Map<number, { text: string, pdu: string }> }>()
  for (const { stat, pdu } of listed) {
    let decoded
    try {
      decoded = decodePdu(pdu)
    } catch (err) {
      log('a stored PDU does not decode - %s', (err as Error).message)
      continue
    }
    if (decoded.type === 'status-report' || (decoded.type === 'submit' && stat !== STAT_SENT)) continue
    const direction = decoded.type === 'deliver' ? 'in' : 'out'
    const party = decoded.type === 'deliver' ? decoded.from : decoded.to
    const concat = decoded.concat
    const id = concat == null ? `single/${pdu}` : `${direction}/${party}/${concat.ref}/${concat.total}`
    const group = groups.get(id) ?? { direction, party, at: decoded.type === 'deliver' ? decoded.timestamp : now, read: stat === STAT_READ, total: concat?.total ?? 1, parts: new Map() }
    group.parts.set(concat?.seq ?? 1, { text: decoded.text, pdu })
    groups.set(id, group)
  }
  const texts: StoredSms[] = []
  for (const g of groups.values()) {
    if (g.parts.size < g.total) continue
    const parts = [...g.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p)
    const text: StoredSms = { key: `pdu:${digest(parts.map(p => p.pdu))}`, direction: g.direction, party: g.party, body: parts.map(p => p.text).join(''), at: g.at }
    if (g.direction === 'in' && g.read) text.read = true
    texts.push(text)
  }
  return texts.sort((a, b) => b.at - a.at)
}

/**
 * Every text in the modem's storages, newest first: each storage chosen with `+CPMS` and
 * listed with `+CMGL=4`, then the storage that was chosen before chosen again. A storage the
 * modem does not have is skipped.
 */
export async function listStorages (at: AtCall): Promise<StoredSms[]> {
  const current = /\+CPMS: *"(\w+)"/.exec((await at('AT+CPMS?')).find(l => l.startsWith('+CPMS:')) ?? '')?.[1] ?? 'SM'
  const listed: Listed[] = []
  try {
    for (const storage of STORAGES) {
      try {
        await at(`AT+CPMS="${storage}"`)
      } catch {
        continue
      }
      listed.push(...parseCmgl(await at('AT+CMGL=4')))
    }
  } finally {
    await at(`AT+CPMS="${current}"`).catch(err => { log.error('could not choose storage %s again - %s', current, (err as Error).message) })
  }
  return textsOf(listed, Date.now())
}
