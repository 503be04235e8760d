import { connect } from 'node:net'
import type { AtTransport } from './at-commands.ts'

export interface TransportEvents {
  data(text: string): void
  close(reason: string): void
}

/** `at+tcp://HOST:PORT`: a modem (or a serial-to-network bridge) on TCP. */
export async function openTcp (host: string, port: number, events: TransportEvents): Promise<AtTransport> {
  return await new Promise<AtTransport>((resolve, reject) => {
    const socket = connect({ host, port })
    socket.setEncoding('latin1')
    socket.once('connect', () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      socket.on('data', (d: string) => { events.data(d) })
      socket.on('close', () => { events.close('the connection to the modem closed') })
      resolve({ write: (s) => { socket.write(s, 'latin1') }, close: () => { socket.destroy() } })
    })
    socket.once('error', reject)
  })
}

/** `at:///dev/ttyUSB2?baud=115200`: a serial port, through the `serialport` package. */
export async function openSerial (path: string, baudRate: number, events: TransportEvents): Promise<AtTransport> {
  const { SerialPort } = await import('serialport')
  return await new Promise<AtTransport>((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false })
    port.open((err) => {
      if (err != null) {
        reject(err)
        return
      }
      port.on('data', (d: Buffer) => { events.data(d.toString('latin1')) })
      port.on('error', () => {})
      port.on('close', () => { events.close('the serial port closed') })
      resolve({ write: (s) => { port.write(Buffer.from(s, 'latin1')) }, close: () => { if (port.isOpen) port.close() } })
    })
  })
}
