import { connect, type Socket } from 'node:net'
import { logger } from '@libp2p/logger'
import type { SimFacts } from '../../node/identity/records.ts'
import { parseHostPort, readLines, writeLine, type CarrierMessage } from '../../carrier/protocol.ts'
import type { BackendHandlers, BackendKind, SmsBackend } from './backend.ts'
import { InvalidSmsError, SmsBackendError } from '../errors.ts'
import { normalizeNumber } from '../codec/numbers.ts'

const log = logger('companion:sms:sim')

/** How long the network may take to take a message. */
const SUBMIT_TIMEOUT_MS = 30_000
const RECONNECT_MIN_MS = 200
const RECONNECT_MAX_MS = 5_000

/**
 * `sim://HOST:PORT/NUMBER[?signal=0-4&roaming=1&operator=NAME]`: a phone attached to the
 * simulated carrier (`companion carrier`).
 */
export class SimBackend implements SmsBackend {
  readonly uri: string
  private readonly host: string
  private readonly port: number
  private readonly number: string
  private readonly extra: SimFacts
  private readonly handlers: BackendHandlers
  private socket?: Socket
  private attached = false
  private stopped = false
  private retryMs = RECONNECT_MIN_MS
  private nextTag = 1
  private readonly waiting = new Map<number, { resolve: (ref: string) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout> }>()

  constructor (uri: string, handlers: BackendHandlers) {
    this.uri = uri
    this.handlers = handlers
    let url: URL
    try {
      url = new URL(uri)
    } catch {
      throw new InvalidSmsError(`"${uri}" is not sim://HOST:PORT/NUMBER`)
    }
    try {
      const { host, port } = parseHostPort(url.host)
      this.host = host
      this.port = port
      this.number = normalizeNumber(decodeURIComponent(url.pathname.slice(1)))
    } catch (err) {
      throw new InvalidSmsError(`"${uri}" is not sim://HOST:PORT/NUMBER: ${(err as Error).message}`)
    }
    const signal = url.searchParams.get('signal')
    this.extra = {
      carrier: url.searchParams.get('operator') ?? 'Simulated carrier',
      roaming: url.searchParams.get('roaming') === '1',
      signal: signal == null ? 4 : Math.max(0, Math.min(4, Number.parseInt(signal, 10) || 0))
    }
  }

  get ready (): boolean {
    return this.attached
  }

  get facts (): SimFacts {
    return { number: this.number, ...this.extra }
  }

  async start (): Promise<void> {
    this.connect()
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.socket?.destroy()
    this.failWaiting('this device is shutting down')
  }

  async send (to: string, body: string): Promise<string> {
    const socket = this.socket
    if (socket == null || !this.attached) throw new SmsBackendError('no network: the phone is not attached to the carrier', { notSent: true })
    const tag = this.nextTag++
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tag)
        reject(new SmsBackendError('outcome unknown: the network did not answer'))
      }, SUBMIT_TIMEOUT_MS)
      this.waiting.set(tag, { resolve, reject, timer })
      writeLine(socket, { op: 'submit', tag, to, body })
    })
  }

  private connect (): void {
    if (this.stopped) return
    const socket = connect({ host: this.host, port: this.port })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('connect', () => { writeLine(socket, { op: 'attach', number: this.number }) })
    socket.on('error', (err) => { log('carrier connection failed - %s', err.message) })
    socket.on('close', () => {
      const was = this.attached
      this.attached = false
      this.socket = undefined
      // a submission without an answer may or may not have been carried
      this.failWaiting('outcome unknown: the connection to the network broke')
      if (was) this.handlers.changed()
      if (this.stopped) return
      setTimeout(() => { this.connect() }, this.retryMs).unref()
      this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS)
    })
    readLines(socket, (msg) => { void this.onMessage(socket, msg) })
  }

  private failWaiting (reason: string): void {
    for (const [tag, w] of this.waiting) {
      clearTimeout(w.timer)
      w.reject(new SmsBackendError(reason))
      this.waiting.delete(tag)
    }
  }

  private async onMessage (socket: Socket, msg: CarrierMessage): Promise<void> {
    switch (msg.op) {
      case 'attached':
        this.attached = true
        this.retryMs = RECONNECT_MIN_MS
        this.handlers.changed()
        return
      case 'submitted':
      case 'rejected': {
        const w = this.waiting.get(Number(msg.tag))
        if (w == null) return
        this.waiting.delete(Number(msg.tag))
        clearTimeout(w.timer)
        if (msg.op === 'submitted' && typeof msg.ref === 'string') w.resolve(msg.ref)
        else w.reject(new SmsBackendError(typeof msg.reason === 'string' ? msg.reason.slice(0, 120) : 'the network refused the message'))
        return
      }
      case 'deliver':
      case 'report':
        try {
          if (msg.op === 'deliver') {
            if (typeof msg.from !== 'string' || typeof msg.body !== 'string') throw new Error('malformed delivery')
            await this.handlers.incoming({ from: msg.from, body: msg.body, at: Number(msg.at) || Date.now() })
          } else {
            if (typeof msg.ref !== 'string') throw new Error('malformed report')
            await this.handlers.report({ ref: msg.ref, delivered: msg.status === 'delivered', at: Number(msg.at) || Date.now(), ...(typeof msg.reason === 'string' ? { reason: msg.reason } : {}) })
          }
          // stored: now the network may forget it
          writeLine(socket, { op: 'ack', id: msg.id as number })
        } catch (err) {
          log.error('could not take %s from the carrier - %s', msg.op, (err as Error).message)
        }
        return
      case 'error':
        log.error('the carrier says %s', String(msg.reason).slice(0, 200))
        return
      default:
        log('ignoring carrier message %s', msg.op.slice(0, 20))
    }
  }
}

export const simBackend: BackendKind = {
  schemes: ['sim'],
  usage: 'sim://HOST:PORT/NUMBER',
  summary: 'a simulated carrier: companion carrier',
  create: (uri, handlers) => new SimBackend(uri, handlers)
}
