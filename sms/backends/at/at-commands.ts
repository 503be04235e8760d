import { AtCommandError } from './errors.ts'

/** A byte pipe to the modem (a serial port, a TCP socket). */
export interface AtTransport {
  write(data: string): void
  close(): void
}

/** Lines the modem sends on its own; `pdu` is the line after it, for those followed by one. */
export interface Unsolicited { line: string, pdu?: string }

/** Unsolicited result codes we act on; `+CDS:` and `+CMT:` are followed by a PDU line. */
const URC = /^(\+CMTI:|\+CDS:|\+CMT:|\+CDSI:|RING|\+CRING:|\+CREG:|\+CGREG:|\^)/
const WITH_PDU = /^(\+CDS:|\+CMT:)/
const FINAL_OK = /^OK$/
const FINAL_ERROR = /^(ERROR|\+CMS ERROR: ?(\d+)|\+CME ERROR: ?(.+)|NO CARRIER)$/

interface Pending {
  command: string
  /** Text sent after the `> ` prompt (+CMGS). */
  payload?: string
  lines: string[]
  resolve: (lines: string[]) => void
  reject: (err: AtCommandError) => void
  timer: ReturnType<typeof setTimeout>
}

/**
 * Talks 3GPP TS 27.007/27.005 to a modem: one command at a time, each with a timeout, its
 * intermediate lines collected until OK or an error; unsolicited lines (new message, delivery
 * report) are picked out wherever they arrive, also in the middle of an answer.
 */
export class AtPort {
  private transport?: AtTransport
  private buffer = ''
  private readonly queue: Array<() => void> = []
  private pending?: Pending
  private expectPduFor?: string
  private readonly onUnsolicited: (urc: Unsolicited) => void

  constructor (onUnsolicited: (urc: Unsolicited) => void) {
    this.onUnsolicited = onUnsolicited
  }

  attach (transport: AtTransport): void {
    this.transport = transport
    this.buffer = ''
    this.expectPduFor = undefined
  }

  /** The transport went away: every command waiting fails. */
  detach (reason: string): void {
    this.transport = undefined
    const pending = this.pending
    this.pending = undefined
    if (pending != null) {
      clearTimeout(pending.timer)
      pending.reject(new AtCommandError(reason, 'closed'))
    }
    for (const run of this.queue.splice(0)) run()
  }

  /** Send `command` (without AT's CR); resolves with its intermediate lines on OK. */
  async command (command: string, timeoutMs: number, payload?: string): Promise<string[]> {
    return await new Promise<string[]>((resolve, reject) => {
      this.queue.push(() => {
        const transport = this.transport
        if (transport == null) {
          reject(new AtCommandError('the modem is not connected', 'closed'))
          queueMicrotask(() => { this.next() })
          return
        }
        const timer = setTimeout(() => {
          if (this.pending?.timer !== timer) return
          this.pending = undefined
          reject(new AtCommandError(`the modem did not answer ${command.slice(0, 20)} within ${timeoutMs / 1000} s`, 'timeout'))
          this.next()
        }, timeoutMs)
        this.pending = { command, ...(payload == null ? {} : { payload }), lines: [], resolve, reject, timer }
        transport.write(command + '\r')
      })
      this.next()
    })
  }

  private next (): void {
    if (this.pending != null) return
    this.queue.shift()?.()
  }

  /** Bytes from the modem. */
  receive (data: string): void {
    this.buffer += data
    if (this.buffer.length > 1024 * 1024) this.buffer = this.buffer.slice(-4096)
    while (true) {
      // the +CMGS prompt has no line ending
      const p = this.pending
      if (p?.payload != null && /^\s*> ?$/.test(this.buffer)) {
        this.buffer = ''
        this.transport?.write(p.payload + '\x1a')
        delete p.payload
        continue
      }
      const nl = this.buffer.search(/\r\n|\n|\r/)
      if (nl < 0) return
      const line = this.buffer.slice(0, nl).trim()
      this.buffer = this.buffer.slice(nl).replace(/^(\r\n|\n|\r)/, '')
      if (line !== '') this.line(line)
    }
  }

  private line (line: string): void {
    if (this.expectPduFor != null) {
      const head = this.expectPduFor
      this.expectPduFor = undefined
      this.onUnsolicited({ line: head, pdu: line })
      return
    }
    const p = this.pending
    // a command's own answer may look like a URC (+CMGR after +CMTI): only URCs it did not ask for
    const prefix = p?.command.replace(/^AT/, '').split(/[=?]/)[0] ?? ''
    const own = prefix !== '' && line.startsWith(prefix)
    if (!own && URC.test(line)) {
      if (WITH_PDU.test(line)) this.expectPduFor = line
      else this.onUnsolicited({ line })
      return
    }
    if (p == null) return
    if (FINAL_OK.test(line)) {
      this.finish(p)
      p.resolve(p.lines)
      return
    }
    const error = FINAL_ERROR.exec(line)
    if (error != null) {
      this.finish(p)
      if (error[2] != null) p.reject(new AtCommandError(line, 'cms', Number(error[2])))
      else if (error[3] != null && Number.isInteger(Number(error[3]))) p.reject(new AtCommandError(line, 'cme', Number(error[3])))
      else p.reject(new AtCommandError(line, error[3] != null ? 'cme' : 'error'))
      return
    }
    if (line === p.command) return // echo, before ATE0 took effect
    p.lines.push(line)
  }

  private finish (p: Pending): void {
    clearTimeout(p.timer)
    this.pending = undefined
    queueMicrotask(() => { this.next() })
  }
}
