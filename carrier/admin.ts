import { connect, type Socket } from 'node:net'
import { CarrierProtocolError, parseHostPort, readLines, writeLine, type CarrierMessage } from './protocol.ts'
import type { CarriedSms } from './server.ts'

/** Where `companion carrier send/log` look when not told. */
export const DEFAULT_CARRIER = '127.0.0.1:7700'
const TIMEOUT_MS = 5_000

/** Nothing listens at the address (or it cannot be reached at all). */
export class CarrierUnreachableError extends Error {
  override readonly name = 'CarrierUnreachableError'
}

/** Something answers, but not as a carrier does (or it stopped answering half-way). */
export class CarrierAnswerError extends Error {
  override readonly name = 'CarrierAnswerError'
}

/**
 * One connection to a carrier for requests answered in order (`inject`, `log` pages). Errors
 * say what happened: nothing listening is not the same as a carrier that answered badly.
 */
export class CarrierConnection {
  private readonly socket: Socket
  private readonly address: string
  private readonly waiting: Array<{ resolve: (msg: CarrierMessage) => void, reject: (err: Error) => void }> = []
  private failure?: Error

  private constructor (address: string, socket: Socket) {
    this.address = address
    this.socket = socket
    readLines(socket, (msg) => { this.waiting.shift()?.resolve(msg) })
    socket.on('error', (err) => { this.fail(err instanceof CarrierProtocolError ? new CarrierAnswerError(`the carrier at ${address} sent something that is not its protocol (${err.message})`) : err) })
    socket.on('close', () => { this.fail(new CarrierAnswerError(`the carrier at ${address} closed the connection before answering`)) })
  }

  static async open (address: string): Promise<CarrierConnection> {
    const { host, port } = parseHostPort(address)
    return await new Promise<CarrierConnection>((resolve, reject) => {
      const socket = connect({ host, port })
      const timer = setTimeout(() => { socket.destroy(new CarrierUnreachableError(`nothing answered at ${address} within ${TIMEOUT_MS / 1000} s`)) }, TIMEOUT_MS)
      const refused = (err: Error): void => {
        clearTimeout(timer)
        reject(err instanceof CarrierUnreachableError ? err : new CarrierUnreachableError(`no carrier at ${address} (${err.message}); start one with companion carrier --listen ${address}`))
      }
      socket.once('error', refused)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.off('error', refused)
        resolve(new CarrierConnection(address, socket))
      })
    })
  }

  async request (msg: CarrierMessage): Promise<CarrierMessage> {
    if (this.failure != null) throw this.failure
    return await new Promise<CarrierMessage>((resolve, reject) => {
      const timer = setTimeout(() => { this.fail(new CarrierAnswerError(`the carrier at ${this.address} did not answer within ${TIMEOUT_MS / 1000} s`)) }, TIMEOUT_MS)
      this.waiting.push({
        resolve: (answer) => { clearTimeout(timer); resolve(answer) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      })
      writeLine(this.socket, msg)
    })
  }

  close (): void {
    this.failure ??= new CarrierAnswerError('the connection to the carrier is closed')
    this.socket.end()
  }

  private fail (err: Error): void {
    this.failure ??= err
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure)
    this.socket.destroy()
  }
}

/** One request to a carrier, one answer (`inject`). */
export async function askCarrier (address: string, request: CarrierMessage): Promise<CarrierMessage> {
  const connection = await CarrierConnection.open(address)
  try {
    return await connection.request(request)
  } finally {
    connection.close()
  }
}

/** Every message the carrier carried, page by page over one connection (a log can hold 100,000s). */
export async function * carrierLog (address: string): AsyncGenerator<CarriedSms[]> {
  const connection = await CarrierConnection.open(address)
  try {
    let after = 0
    for (;;) {
      const page = await connection.request({ op: 'log', after })
      if (page.op === 'error') throw new CarrierAnswerError(`the carrier refused: ${String(page.reason)}`)
      if (page.op !== 'log' || !Array.isArray(page.entries)) throw new CarrierAnswerError(`the carrier at ${address} answered "${String(page.op).slice(0, 20)}" to a log request`)
      yield page.entries as CarriedSms[]
      if (typeof page.next !== 'number' || page.next <= after) return
      after = page.next
    }
  } finally {
    connection.close()
  }
}
