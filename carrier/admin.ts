import { connect } from 'node:net'
import { parseHostPort, readLines, writeLine, type CarrierMessage } from './protocol.ts'

/** Where `companion carrier send/log` look when not told. */
export const DEFAULT_CARRIER = '127.0.0.1:7700'
const TIMEOUT_MS = 5_000

export class CarrierUnreachableError extends Error {
  override readonly name = 'CarrierUnreachableError'
}

/** One request to a carrier, one answer (`inject`, `log`). */
export async function askCarrier (address: string, request: CarrierMessage): Promise<CarrierMessage> {
  const { host, port } = parseHostPort(address)
  return await new Promise<CarrierMessage>((resolve, reject) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => { socket.destroy(new CarrierUnreachableError(`the carrier at ${address} did not answer within ${TIMEOUT_MS / 1000} s`)) }, TIMEOUT_MS)
    socket.on('connect', () => { writeLine(socket, request) })
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err instanceof CarrierUnreachableError ? err : new CarrierUnreachableError(`no carrier at ${address} (${err.message}); start one with companion carrier --listen ${address}`))
    })
    readLines(socket, (msg) => {
      clearTimeout(timer)
      socket.end()
      resolve(msg)
    })
  })
}
