/**
 * TCP ends for tunnel tests, run inside a host's namespace:
 *   node tcp-tools.ts sink PORT            listen on 127.0.0.1:PORT; per connection, hash what arrives
 *                                          and answer {"bytes","sha256","maxGapMs"} when the sender ends
 *   node tcp-tools.ts source PORT BYTES BPS  send BYTES pseudo-random bytes at BPS bytes/s, end, and
 *                                          print {"sent","sha256","reply"} once the answer came back
 */
import { createHash } from 'node:crypto'
import { connect, createServer } from 'node:net'

const [mode, portText, bytesText, rateText] = process.argv.slice(2)
const port = Number(portText)

if (mode === 'sink') {
  createServer({ allowHalfOpen: true }, (socket) => {
    const hash = createHash('sha256')
    let bytes = 0
    let last = 0
    let maxGapMs = 0
    socket.on('data', (d: Buffer) => {
      const now = performance.now()
      if (last > 0) maxGapMs = Math.max(maxGapMs, now - last)
      last = now
      bytes += d.byteLength
      hash.update(d)
    })
    socket.on('end', () => { socket.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), maxGapMs: Math.round(maxGapMs) })) })
    socket.on('error', () => {})
  }).listen(port, '127.0.0.1', () => { process.stdout.write('listening\n') })
} else if (mode === 'source') {
  const total = Number(bytesText)
  const rate = Number(rateText)
  const hash = createHash('sha256')
  // xorshift: the same bytes every run, cheap to make
  let x = 0x12345678
  const chunk = (size: number): Buffer => {
    const out = Buffer.alloc(size)
    for (let i = 0; i < size; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5
      out.writeInt32LE(x | 0, i)
    }
    return out
  }
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
    const started = Date.now()
    let sent = 0
    const step = (): void => {
      while (sent < total) {
        const due = ((Date.now() - started) / 1000) * rate
        if (sent >= due) {
          setTimeout(step, 10)
          return
        }
        const data = chunk(Math.min(64 * 1024, total - sent))
        hash.update(data)
        sent += data.byteLength
        if (!socket.write(data)) {
          socket.once('drain', step)
          return
        }
      }
      socket.end()
    }
    step()
  })
  let reply = ''
  socket.on('data', (d: Buffer) => { reply += d.toString() })
  socket.on('end', () => { process.stdout.write(JSON.stringify({ sent: total, sha256: hash.digest('hex'), reply: JSON.parse(reply || '{}') }) + '\n') })
  socket.on('error', (err) => { process.stdout.write(JSON.stringify({ error: err.message }) + '\n') })
}
