import { createServer, type Server, type Socket } from 'node:net'
import { DatabaseSync } from 'node:sqlite'
import { MAX_BODY_CHARS } from '../sms/constants.ts'
import { readLines, writeLine, type CarrierMessage } from './protocol.ts'

export interface CarrierOptions {
  host: string
  port: number
  /** SQLite file for the log and undelivered messages; in memory when absent. */
  db?: string
  /** Delay before every answer and every push, ms. */
  latencyMs?: number
  /** Fraction (0–1) of submissions refused with a network failure. */
  failRate?: number
  random?: () => number
}

export interface CarriedSms { id: number, from: string, to: string, body: string, at: number }
// a type, not an interface: SQLite rows are records
type LogRow = { id: number, sender: string, recipient: string, body: string, at: number }
const carried = (r: LogRow): CarriedSms => ({ id: r.id, from: r.sender, to: r.recipient, body: r.body, at: r.at })

const NUMBER = /^(\+[1-9]\d{6,14}|\d{3,6})$/
/** A `log` page holds at most this many entries… */
export const LOG_PAGE_ENTRIES = 500
/** …and stops before this many characters of JSON, so a page fits a line (one longest text escaped fits alone). */
const LOG_PAGE_CHARS = 256 * 1024

/**
 * A simulated mobile network on loopback for demos and tests. Phones attach with a number;
 * an SMS to an attached number is delivered (and acknowledged by that phone) and then reported
 * delivered to the sender; an SMS to any other number is carried and stays `sent`. What the
 * carrier pushes (deliveries, reports) is kept until the phone acknowledges it, like an SMSC.
 */
export class Carrier {
  private readonly options: CarrierOptions
  private readonly db: DatabaseSync
  private server?: Server
  private readonly phones = new Map<string, Socket>()

  constructor (options: CarrierOptions) {
    this.options = options
    this.db = new DatabaseSync(options.db ?? ':memory:')
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS numbers (number TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS pushes (id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT NOT NULL, message TEXT NOT NULL, report_to TEXT, ref TEXT);`)
  }

  async listen (): Promise<{ host: string, port: number }> {
    const server = createServer(socket => { this.accept(socket) })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => { resolve() })
    })
    const address = server.address()
    if (address == null || typeof address === 'string') throw new Error('the carrier has no TCP address')
    return { host: address.address, port: address.port }
  }

  async close (): Promise<void> {
    for (const socket of this.phones.values()) socket.destroy()
    await new Promise<void>(resolve => { this.server?.close(() => { resolve() }) ?? resolve() })
    this.db.close()
  }

  log (): CarriedSms[] {
    const rows = this.db.prepare('SELECT id, sender, recipient, body, at FROM log ORDER BY id').all() as LogRow[]
    return rows.map(carried)
  }

  /** Entries after id `after`, one page; `next` is where the following page starts, absent at the end. */
  logPage (after: number): { entries: CarriedSms[], next?: number } {
    const rows = this.db.prepare('SELECT id, sender, recipient, body, at FROM log WHERE id > ? ORDER BY id LIMIT ?').all(after, LOG_PAGE_ENTRIES + 1) as LogRow[]
    const entries: CarriedSms[] = []
    let chars = 0
    for (const row of rows) {
      const entry = carried(row)
      const last = entries.at(-1)
      const size = JSON.stringify(entry).length + 1
      if (last != null && (entries.length === LOG_PAGE_ENTRIES || chars + size > LOG_PAGE_CHARS)) return { entries, next: last.id }
      entries.push(entry)
      chars += size
    }
    return { entries }
  }

  private later (fn: () => void): void {
    const ms = this.options.latencyMs ?? 0
    if (ms > 0) setTimeout(fn, ms)
    else setImmediate(fn)
  }

  private accept (socket: Socket): void {
    let number: string | undefined
    socket.on('error', () => {})
    socket.on('close', () => { if (number != null && this.phones.get(number) === socket) this.phones.delete(number) })
    readLines(socket, (msg) => {
      try {
        if (msg.op === 'attach') {
          if (typeof msg.number !== 'string' || !NUMBER.test(msg.number)) throw new Error('attach needs a number in international form')
          number = msg.number
          this.phones.get(number)?.destroy()
          this.phones.set(number, socket)
          this.db.prepare('INSERT OR IGNORE INTO numbers (number) VALUES (?)').run(number)
          writeLine(socket, { op: 'attached', number })
          this.resend(number)
        } else if (msg.op === 'submit') {
          if (number == null) throw new Error('attach first')
          this.submit(socket, number, msg)
        } else if (msg.op === 'ack') {
          this.acknowledged(number, Number(msg.id))
        } else if (msg.op === 'inject') {
          this.inject(socket, msg)
        } else if (msg.op === 'log') {
          const after = msg.after ?? 0
          if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) throw new Error('log takes after: the id of the last entry already read')
          writeLine(socket, { op: 'log', ...this.logPage(after) })
        } else {
          throw new Error(`unknown op ${msg.op.slice(0, 20)}`)
        }
      } catch (err) {
        writeLine(socket, { op: 'error', tag: msg.tag ?? null, reason: (err as Error).message })
      }
    })
  }

  private submit (socket: Socket, from: string, msg: CarrierMessage): void {
    const { tag, to, body } = msg
    if (typeof to !== 'string' || !NUMBER.test(to) || typeof body !== 'string' || body.length > MAX_BODY_CHARS) throw new Error(`submit needs to and a body of at most ${MAX_BODY_CHARS} characters`)
    this.later(() => {
      if ((this.options.random ?? Math.random)() < (this.options.failRate ?? 0)) {
        writeLine(socket, { op: 'rejected', tag, reason: 'network failure (simulated)' })
        return
      }
      const id = Number(this.db.prepare('INSERT INTO log (sender, recipient, body, at) VALUES (?, ?, ?, ?)').run(from, to, body, Date.now()).lastInsertRowid)
      const ref = `R${id}`
      writeLine(socket, { op: 'submitted', tag, ref })
      if (this.db.prepare('SELECT 1 FROM numbers WHERE number = ?').get(to) != null) {
        this.push(to, { op: 'deliver', from, to, body, at: Date.now() }, from, ref)
      }
    })
  }

  private inject (socket: Socket, msg: CarrierMessage): void {
    const { from, to, body } = msg
    if (typeof from !== 'string' || !NUMBER.test(from) || typeof to !== 'string' || !NUMBER.test(to) || typeof body !== 'string' || body.length > MAX_BODY_CHARS) throw new Error(`inject needs from, to (numbers in international form) and a body of at most ${MAX_BODY_CHARS} characters`)
    if (this.db.prepare('SELECT 1 FROM numbers WHERE number = ?').get(to) == null) throw new Error(`no phone has attached with number ${to}`)
    const id = Number(this.db.prepare('INSERT INTO log (sender, recipient, body, at) VALUES (?, ?, ?, ?)').run(from, to, body, Date.now()).lastInsertRowid)
    this.push(to, { op: 'deliver', from, to, body, at: Date.now() })
    writeLine(socket, { op: 'injected', id })
  }

  /** Keep a push until the phone acknowledges it; send it now if the phone is attached. */
  private push (number: string, message: CarrierMessage, reportTo?: string, ref?: string): void {
    const id = Number(this.db.prepare('INSERT INTO pushes (number, message, report_to, ref) VALUES (?, ?, ?, ?)').run(number, JSON.stringify(message), reportTo ?? null, ref ?? null).lastInsertRowid)
    const socket = this.phones.get(number)
    if (socket != null) this.later(() => { writeLine(socket, { ...message, id }) })
  }

  private resend (number: string): void {
    const rows = this.db.prepare('SELECT id, message FROM pushes WHERE number = ? ORDER BY id').all(number) as Array<{ id: number, message: string }>
    const socket = this.phones.get(number)
    if (socket == null) return
    for (const row of rows) writeLine(socket, { ...(JSON.parse(row.message) as CarrierMessage), id: row.id })
  }

  private acknowledged (number: string | undefined, id: number): void {
    if (number == null || !Number.isInteger(id)) throw new Error('ack needs the id of a push to this phone')
    const row = this.db.prepare('SELECT report_to, ref FROM pushes WHERE id = ? AND number = ?').get(id, number) as { report_to: string | null, ref: string | null } | undefined
    if (row == null) return
    this.db.prepare('DELETE FROM pushes WHERE id = ?').run(id)
    // the recipient's phone has it: that is what a delivery report says
    if (row.report_to != null && row.ref != null) this.push(row.report_to, { op: 'report', ref: row.ref, status: 'delivered', at: Date.now() })
  }
}
