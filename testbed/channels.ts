import { request } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Device } from './device.ts'

/** A channel of `device` to `peer`, as a raw socket (what `companion connect` does). */
export async function openChannel (device: Device, peer: string, channel: string, priority: 'interactive' | 'bulk' = 'interactive'): Promise<Duplex> {
  return await new Promise((resolve, reject) => {
    const query = `device=${encodeURIComponent(peer)}&channel=${encodeURIComponent(channel)}${priority === 'bulk' ? '&priority=bulk' : ''}`
    const req = request({ socketPath: device.api.socketPath, path: `/v1/connect?${query}`, headers: { connection: 'upgrade', upgrade: 'companion-channel' } })
    req.on('upgrade', (_res, socket, head) => {
      if (head.byteLength > 0) socket.unshift(head)
      resolve(socket)
    })
    req.on('response', (res) => {
      // say what the daemon said, not only its status
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { reject(new Error(`channel refused: HTTP ${res.statusCode ?? '?'} ${body.slice(0, 300)}`)) })
    })
    req.on('error', reject)
    req.end()
  })
}

export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN
}

/** Round trips (ms) of `count` small messages, one at a time, on an echo channel. */
export async function echoRoundTrips (socket: Duplex, count: number): Promise<number[]> {
  const times: number[] = []
  const message = Buffer.alloc(32, 0x61)
  for (let i = 0; i < count; i++) {
    const start = performance.now()
    let got = 0
    await new Promise<void>(resolve => {
      const onData = (d: Buffer): void => {
        got += d.byteLength
        if (got >= message.byteLength) {
          socket.off('data', onData)
          resolve()
        }
      }
      socket.on('data', onData)
      socket.write(message)
    })
    times.push(performance.now() - start)
  }
  return times
}

/** Keep a bulk echo channel saturated (write as fast as it takes, discard the echo) until stopped. */
export function saturate (socket: Duplex): { stop(): void, bytes(): number } {
  let running = true
  let bytes = 0
  const block = Buffer.alloc(64 * 1024, 0x62)
  socket.on('data', (d: Buffer) => { bytes += d.byteLength })
  const pump = (): void => {
    while (running && socket.write(block)) {}
    if (running) socket.once('drain', pump)
  }
  pump()
  return { stop: () => { running = false; socket.destroy() }, bytes: () => bytes }
}
