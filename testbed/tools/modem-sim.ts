import { createServer, type Server, type Socket } from 'node:net'
import { decodePdu, type SubmitPduDecoded } from '../../sms/codec/pdu.ts'

export interface SimSent { to: string, text: string, mr: number, part?: number, parts?: number, statusReport: boolean }

/**
 * A GSM modem stand-in that speaks 3GPP TS 27.005 in PDU mode over TCP (and, through a pty
 * bridge, over a serial device): enough of a real modem to test the AT backend, including its
 * bad days. Not part of the product.
 */
export class ModemSim {
  readonly sent: SimSent[] = []
  /** The SIM's storage ("SM"): index → PDU (hex, with SMSC). */
  readonly storage = new Map<number, string>()
  /** The phone's own storage ("ME"), which `+CPMS` chooses. */
  readonly phoneStorage = new Map<number, string>()
  /** `+CMGL` stat of a stored PDU other than 0 (received unread): 1 read, 2 unsent, 3 sent. */
  readonly stats = new Map<string, number>()
  /** The storage `+CMGR`, `+CMGD` and `+CMGL` act on. */
  chosen: 'SM' | 'ME' = 'SM'
  /** How many times a client connected (a stuck modem gets reopened). */
  connections = 0
  /** Answer the next +CMGS with +CMS ERROR: n. */
  failNextSend?: number
  /** Swallow the next +CMGS without any answer. */
  silentNextSend = false
  /** Put this unsolicited line in the middle of the next +CMGS answer. */
  urcInsideNextSend?: string
  /** Put this unsolicited line just before the next `> ` prompt. */
  urcBeforeNextPrompt?: string
  /** Delay every answer. */
  lateMs = 0
  /** Report every sent part delivered after this long (undefined: no reports). */
  reportAfterMs?: number = 50
  private server?: Server
  private socket?: Socket
  private nextMr = 1
  private nextIndex = 1

  async listen (): Promise<number> {
    this.server = createServer(socket => { this.accept(socket) })
    await new Promise<void>(resolve => this.server?.listen(0, '127.0.0.1', resolve))
    const address = this.server.address()
    return typeof address === 'object' && address != null ? address.port : 0
  }

  async close (): Promise<void> {
    this.socket?.destroy()
    await new Promise<void>(resolve => this.server?.close(() => { resolve() }) ?? resolve())
  }

  /** An SMS-DELIVER (hex, with SMSC) arrives: stored on the SIM, announced with +CMTI. */
  deliver (pduHex: string): number {
    const index = this.nextIndex++
    this.storage.set(index, pduHex)
    this.write(`\r\n+CMTI: "SM",${index}\r\n`)
    return index
  }

  /** A PDU already in a storage (from before the daemon): `stat` 1 received and read, 3 a sent text stored. */
  keep (storage: 'SM' | 'ME', pduHex: string, stat = 0): number {
    const index = this.nextIndex++
    ;(storage === 'SM' ? this.storage : this.phoneStorage).set(index, pduHex)
    if (stat !== 0) this.stats.set(pduHex, stat)
    return index
  }

  private write (text: string): void {
    const socket = this.socket
    if (socket == null || socket.destroyed) return
    if (this.lateMs > 0) setTimeout(() => { socket.write(text, 'latin1') }, this.lateMs)
    else socket.write(text, 'latin1')
  }

  private accept (socket: Socket): void {
    this.socket?.destroy()
    this.socket = socket
    this.connections++
    socket.setEncoding('latin1')
    socket.on('error', () => {})
    let buffer = ''
    let payloadFor: number | undefined
    socket.on('data', (d: string) => {
      buffer += d
      while (true) {
        if (payloadFor != null) {
          const end = buffer.indexOf('\x1a')
          if (end < 0) return
          const hex = buffer.slice(0, end).trim()
          buffer = buffer.slice(end + 1)
          payloadFor = undefined
          this.submitted(hex)
          continue
        }
        const cr = buffer.indexOf('\r')
        if (cr < 0) return
        const command = buffer.slice(0, cr).trim()
        buffer = buffer.slice(cr + 1)
        if (command === '') continue
        const send = /^AT\+CMGS=(\d+)$/i.exec(command)
        if (send != null) {
          if (this.silentNextSend) {
            // no prompt, no answer: as stuck as a modem gets (the client has to reopen it)
            this.silentNextSend = false
            continue
          }
          payloadFor = Number(send[1])
          const urc = this.urcBeforeNextPrompt
          this.urcBeforeNextPrompt = undefined
          this.write(`${urc == null ? '' : `\r\n${urc}\r\n`}\r\n> `)
          continue
        }
        this.write(this.answer(command))
      }
    })
  }

  private submitted (hex: string): void {
    if (this.failNextSend != null) {
      const code = this.failNextSend
      this.failNextSend = undefined
      this.write(`\r\n+CMS ERROR: ${code}\r\n`)
      return
    }
    const pdu = decodePdu(hex) as SubmitPduDecoded
    const mr = this.nextMr++ & 0xff
    this.sent.push({ to: pdu.to, text: pdu.text, mr, statusReport: pdu.statusReport, ...(pdu.concat == null ? {} : { part: pdu.concat.seq, parts: pdu.concat.total }) })
    const urc = this.urcInsideNextSend
    this.urcInsideNextSend = undefined
    // an unsolicited line between the answer and its OK, as real modems do
    this.write(`\r\n+CMGS: ${mr}\r\n${urc == null ? '' : `\r\n${urc}\r\n`}\r\nOK\r\n`)
    if (this.reportAfterMs != null && pdu.statusReport) {
      setTimeout(() => { this.write(`\r\n+CDS: 25\r\n${statusReport(mr, pdu.to, 0)}\r\n`) }, this.reportAfterMs)
    }
  }

  private answer (command: string): string {
    const ok = '\r\nOK\r\n'
    const upper = command.toUpperCase()
    if (/^AT(E0|\+CMEE=1|\+CMGF=0|\+CNMI=.*)?$/.test(upper)) return ok
    if (upper === 'AT+CPIN?') return `\r\n+CPIN: READY\r\n${ok}`
    if (upper === 'AT+CNUM') return `\r\n+CNUM: "","+15550100002",145\r\n${ok}`
    if (upper === 'AT+COPS?') return `\r\n+COPS: 0,0,"Sim Mobile",7\r\n${ok}`
    if (upper === 'AT+CSQ') return `\r\n+CSQ: 21,99\r\n${ok}`
    const chosen = this.chosen === 'SM' ? this.storage : this.phoneStorage
    if (upper === 'AT+CPMS?') return `\r\n+CPMS: "${this.chosen}",${chosen.size},30,"SM",${this.storage.size},30,"SM",${this.storage.size},30\r\n${ok}`
    const choose = /^AT\+CPMS="(SM|ME)"$/.exec(upper)
    if (choose != null) {
      this.chosen = choose[1] as 'SM' | 'ME'
      return `\r\n+CPMS: ${chosen.size},30,${this.storage.size},30,${this.storage.size},30\r\n${ok}`
    }
    if (upper === 'AT+CMGL=4') {
      return '\r\n' + [...chosen.entries()].map(([i, pdu]) => `+CMGL: ${i},${this.stats.get(pdu) ?? 0},,${pdu.length / 2 - 1}\r\n${pdu}\r\n`).join('') + ok
    }
    const read = /^AT\+CMGR=(\d+)$/.exec(upper)
    if (read != null) {
      const pdu = chosen.get(Number(read[1]))
      return pdu == null ? '\r\n+CMS ERROR: 321\r\n' : `\r\n+CMGR: 0,,${pdu.length / 2 - 1}\r\n${pdu}\r\n${ok}`
    }
    const del = /^AT\+CMGD=(\d+)$/.exec(upper)
    if (del != null) {
      chosen.delete(Number(del[1]))
      return ok
    }
    return '\r\nERROR\r\n'
  }
}

/** An SMS-STATUS-REPORT (with an empty SMSC): message `mr` to `to`, TP-ST `status`. */
export function statusReport (mr: number, to: string, status: number): string {
  const digits = to.replace('+', '')
  const padded = digits.length % 2 === 1 ? digits + 'F' : digits
  let semi = ''
  for (let i = 0; i < padded.length; i += 2) semi += (padded[i + 1] ?? 'F') + padded[i]
  const hex = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase()
  return '0006' + hex(mr) + hex(digits.length) + '91' + semi + '62113201000000' + '62113201000500' + hex(status)
}
