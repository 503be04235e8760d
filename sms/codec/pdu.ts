import { fromSeptets, packSeptets, toSeptets, unpackSeptets } from './gsm7.ts'
import { planMessage, type Encoding } from './plan.ts'

/** A PDU that does not parse; `message` says what was wrong. */
export class InvalidPduError extends Error {
  override readonly name = 'InvalidPduError'
}

/** Concatenation info of one part. */
export interface Concat { ref: number, total: number, seq: number }

export interface SubmitOptions {
  /** Ask the network for a delivery report (TP-SRR). */
  statusReport?: boolean
  /** Message reference for the concatenation header (0–255), same for every part. */
  concatRef?: number
}

/** One part ready for `AT+CMGS=<tpduLength>`: `hex` includes the leading SMSC octet (00: the SIM's). */
export interface SubmitPdu { hex: string, tpduLength: number }

export interface DeliverPdu {
  type: 'deliver'
  from: string
  text: string
  encoding: Encoding | '8bit'
  /** Service centre time stamp, ms since the epoch. */
  timestamp: number
  concat?: Concat
}

export interface StatusReportPdu {
  type: 'status-report'
  /** TP-MR of the message this reports on (what +CMGS answered). */
  reference: number
  recipient: string
  /** TP-ST: 0x00–0x1F delivered, 0x20–0x3F still trying, 0x40 and up failed. */
  status: number
  delivered: boolean
  final: boolean
  timestamp: number
  dischargedAt: number
}

export interface SubmitPduDecoded {
  type: 'submit'
  to: string
  text: string
  encoding: Encoding | '8bit'
  statusReport: boolean
  concat?: Concat
}

export type DecodedPdu = DeliverPdu | StatusReportPdu | SubmitPduDecoded

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase()

/** `+4915123` → [length in digits, type of address, semi-octets]. */
function encodeAddress (number: string): number[] {
  const international = number.startsWith('+')
  const digits = international ? number.slice(1) : number
  if (!/^\d{1,20}$/.test(digits)) throw new InvalidPduError(`cannot address ${number}`)
  const padded = digits.length % 2 === 1 ? digits + 'F' : digits
  const octets: number[] = []
  for (let i = 0; i < padded.length; i += 2) octets.push(parseInt((padded[i + 1] ?? 'F') + padded[i], 16))
  return [digits.length, international ? 0x91 : 0x81, ...octets]
}

function ucs2 (text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2)
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    out[2 * i] = unit >> 8
    out[2 * i + 1] = unit & 0xff
  }
  return out
}

function fromUcs2 (bytes: Uint8Array): string {
  let text = ''
  for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  return text
}

/**
 * SMS-SUBMIT PDUs for a text to `to` (3GPP TS 23.040 §9.2.2.2): one per part, with a
 * concatenation header (8-bit reference) when there are several.
 */
export function encodeSubmit (to: string, text: string, options: SubmitOptions = {}): SubmitPdu[] {
  const plan = planMessage(text)
  const multi = plan.parts.length > 1
  if (plan.parts.length > 255) throw new InvalidPduError('too long for one message')
  const ref = (options.concatRef ?? 0) & 0xff
  return plan.parts.map((part, index) => {
    const udh = multi ? [0x05, 0x00, 0x03, ref, plan.parts.length, index + 1] : []
    let udl: number
    let ud: Uint8Array
    if (plan.encoding === 'gsm7') {
      const septets = toSeptets(part) ?? []
      const headerSeptets = Math.ceil(udh.length * 8 / 7)
      const fill = headerSeptets * 7 - udh.length * 8
      const body = packSeptets(septets, fill)
      udl = headerSeptets + septets.length
      ud = new Uint8Array([...udh, ...body])
    } else {
      const body = ucs2(part)
      udl = udh.length + body.length
      ud = new Uint8Array([...udh, ...body])
    }
    // MTI 01 submit, VPF 10 relative, SRR, UDHI
    const first = 0x01 | 0x10 | (options.statusReport === true ? 0x20 : 0) | (multi ? 0x40 : 0)
    const tpdu = new Uint8Array([first, 0x00, ...encodeAddress(to), 0x00, plan.encoding === 'gsm7' ? 0x00 : 0x08, 0xa7, udl, ...ud])
    return { hex: '00' + hex(tpdu), tpduLength: tpdu.length }
  })
}

/** Reads a TPDU front to back; every read checks the bounds. */
class Reader {
  private at = 0
  private readonly bytes: Uint8Array

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  byte (): number {
    const b = this.bytes[this.at++]
    if (b == null) throw new InvalidPduError('the PDU ends early')
    return b
  }

  take (n: number): Uint8Array {
    if (n < 0 || this.at + n > this.bytes.length) throw new InvalidPduError('the PDU ends early')
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }

  rest (): Uint8Array {
    return this.take(this.bytes.length - this.at)
  }

  address (): string {
    const digits = this.byte()
    const type = this.byte()
    const octets = this.take(Math.ceil(digits / 2))
    if ((type & 0x70) === 0x50) {
      // alphanumeric sender (e.g. "Bank"): GSM-7 packed, `digits` counts semi-octets
      return fromSeptets(unpackSeptets(octets, Math.floor(digits * 4 / 7)))
    }
    let text = ''
    for (const o of octets) text += (o & 0x0f).toString(16) + (o >> 4).toString(16)
    const number = text.slice(0, digits).toUpperCase()
    if (!/^[0-9*#ABC]*$/.test(number)) throw new InvalidPduError('malformed address digits')
    return (type & 0x70) === 0x10 ? '+' + number : number
  }

  timestamp (): number {
    const o = this.take(7)
    const swap = (b: number): number => (b & 0x0f) * 10 + (b >> 4)
    const [yy, mo, dd, hh, mi, ss] = [...o.subarray(0, 6)].map(swap) as [number, number, number, number, number, number]
    const tzByte = o[6] ?? 0
    const quarters = ((tzByte & 0x07) * 10 + (tzByte >> 4)) * ((tzByte & 0x08) !== 0 ? -1 : 1)
    return Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss) - quarters * 15 * 60_000
  }
}

function alphabetOf (dcs: number): Encoding | '8bit' {
  const group = dcs >> 4
  if ((group & 0x0c) === 0x00 || (group & 0x0c) === 0x04) {
    // general data coding (compressed text is not supported: read as 8-bit)
    if ((dcs & 0x20) !== 0) return '8bit'
    const alphabet = (dcs >> 2) & 0x03
    return alphabet === 0 ? 'gsm7' : alphabet === 2 ? 'ucs2' : '8bit'
  }
  if (group === 0x0c || group === 0x0d) return 'gsm7'
  if (group === 0x0e) return 'ucs2'
  if (group === 0x0f) return (dcs & 0x04) !== 0 ? '8bit' : 'gsm7'
  return '8bit'
}

function userData (r: Reader, dcs: number, udhi: boolean): { text: string, encoding: Encoding | '8bit', concat?: Concat } {
  const encoding = alphabetOf(dcs)
  const udl = r.byte()
  const ud = r.rest()
  let headerOctets = 0
  let concat: Concat | undefined
  if (udhi) {
    const udhl = ud[0] ?? 0
    headerOctets = udhl + 1
    if (headerOctets > ud.length) throw new InvalidPduError('the user data header is longer than the user data')
    for (let i = 1; i + 1 < headerOctets;) {
      const iei = ud[i] ?? 0
      const len = ud[i + 1] ?? 0
      const v = ud.subarray(i + 2, i + 2 + len)
      if (iei === 0x00 && len === 3) concat = { ref: v[0] ?? 0, total: v[1] ?? 0, seq: v[2] ?? 0 }
      if (iei === 0x08 && len === 4) concat = { ref: ((v[0] ?? 0) << 8) | (v[1] ?? 0), total: v[2] ?? 0, seq: v[3] ?? 0 }
      i += 2 + len
    }
  }
  if (encoding === 'gsm7') {
    const headerSeptets = Math.ceil(headerOctets * 8 / 7)
    const count = udl - headerSeptets
    if (count < 0 || Math.ceil(udl * 7 / 8) > ud.length) throw new InvalidPduError('the user data is shorter than its length says')
    return { text: fromSeptets(unpackSeptets(ud, count, headerSeptets * 7)), encoding, ...(concat == null ? {} : { concat }) }
  }
  if (udl > ud.length) throw new InvalidPduError('the user data is shorter than its length says')
  const body = ud.subarray(headerOctets, udl)
  const text = encoding === 'ucs2' ? fromUcs2(body) : Buffer.from(body).toString('latin1')
  return { text, encoding, ...(concat == null ? {} : { concat }) }
}

/**
 * Decode an SMS-DELIVER, SMS-STATUS-REPORT or SMS-SUBMIT; `smsc` when the PDU starts with
 * the service centre address (as `+CMGR` and `+CMT` give it).
 */
export function decodePdu (pdu: Uint8Array | string, options: { smsc?: boolean } = {}): DecodedPdu {
  const bytes = typeof pdu === 'string' ? hexToBytes(pdu) : pdu
  const r = new Reader(bytes)
  if (options.smsc !== false) r.take(r.byte())
  const first = r.byte()
  const mti = first & 0x03
  const udhi = (first & 0x40) !== 0
  if (mti === 0x00) {
    const from = r.address()
    r.byte() // TP-PID
    const dcs = r.byte()
    const timestamp = r.timestamp()
    return { type: 'deliver', from, timestamp, ...userData(r, dcs, udhi) }
  }
  if (mti === 0x02) {
    const reference = r.byte()
    const recipient = r.address()
    const timestamp = r.timestamp()
    const dischargedAt = r.timestamp()
    const status = r.byte()
    return { type: 'status-report', reference, recipient, status, delivered: status <= 0x1f, final: status < 0x20 || status >= 0x40, timestamp, dischargedAt }
  }
  if (mti === 0x01) {
    r.byte() // TP-MR
    const to = r.address()
    r.byte() // TP-PID
    const dcs = r.byte()
    const vpf = (first >> 3) & 0x03
    if (vpf === 2) r.byte()
    else if (vpf !== 0) r.take(7)
    return { type: 'submit', to, statusReport: (first & 0x20) !== 0, ...userData(r, dcs, udhi) }
  }
  throw new InvalidPduError(`unknown message type ${mti}`)
}

export function hexToBytes (text: string): Uint8Array {
  const clean = text.trim()
  if (!/^([0-9A-Fa-f]{2})*$/.test(clean)) throw new InvalidPduError('a PDU is hex digits')
  return new Uint8Array(Buffer.from(clean, 'hex'))
}
