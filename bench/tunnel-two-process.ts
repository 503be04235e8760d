/**
 * The tunnel as it is used: its two ends in two processes (bench/tunnel-peer.ts is the other),
 * against a raw libp2p stream on the same connection, with the CPU each end spends per MiB
 * beside the cipher's own cost. One process on each core, so neither end waits for the other's
 * turn on the CPU, as in bench/tunnel-throughput.ts.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { benchNode, BLOCK, openSinks, TOTAL } from './bench-node.ts'
import { cipherRate } from './cipher-pass.ts'
import { median, row, type BenchRow } from './results.ts'

const PEER = fileURLToPath(new URL('./tunnel-peer.ts', import.meta.url))
/** Measured passes per path (after one warm-up pass each); the median is reported. */
const ROUNDS = 7
const MIB = TOTAL / (1024 * 1024)

interface Pass { mibs: number, senderMsPerMib: number, receiverMsPerMib: number }

export async function tunnelTwoProcess (): Promise<BenchRow[]> {
  const peer = spawn(process.execPath, [...process.execArgv, PEER], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: peer.stdout })[Symbol.asyncIterator]()
  const next = async (prefix: string): Promise<string> => {
    const { value, done } = await lines.next()
    if (done === true || !String(value).startsWith(prefix)) throw new Error(`the peer process said ${String(value)}, expected ${prefix}`)
    return String(value).slice(prefix.length).trim()
  }
  const a = await benchNode()
  try {
    const { channel: ch, stream } = await openSinks(a, await a.dial(multiaddr(await next('addr'))))
    const send = {
      tunnel: async () => { for (let sent = 0; sent < TOTAL; sent += BLOCK.byteLength) await ch.write(BLOCK) },
      raw: async () => { for (let sent = 0; sent < TOTAL; sent += BLOCK.byteLength) if (!stream.send(BLOCK)) await stream.onDrain() }
    }
    const pass = async (path: keyof typeof send): Promise<Pass> => {
      peer.stdin.write('pass\n')
      await next('ready')
      const cpu = process.cpuUsage()
      const start = performance.now()
      const [received] = await Promise.all([next('done'), send[path]()])
      const seconds = (performance.now() - start) / 1000
      const used = process.cpuUsage(cpu)
      return { mibs: MIB / seconds, senderMsPerMib: (used.user + used.system) / 1000 / MIB, receiverMsPerMib: Number(received) / 1000 / MIB }
    }
    const runs: Record<keyof typeof send, Pass[]> = { tunnel: [], raw: [] }
    for (let round = 0; round <= ROUNDS; round++) {
      for (const path of (round % 2 === 0 ? ['tunnel', 'raw'] : ['raw', 'tunnel']) as Array<keyof typeof send>) {
        const result = await pass(path)
        if (round > 0) runs[path].push(result)
      }
    }
    const of = (path: keyof typeof send, key: keyof Pass): number => median(runs[path].map(r => r[key]))
    const cipherMsPerMib = 1000 / cipherRate(TOTAL)
    const [tunnelCpu, rawCpu] = [of('tunnel', 'senderMsPerMib') + of('tunnel', 'receiverMsPerMib'), of('raw', 'senderMsPerMib') + of('raw', 'receiverMsPerMib')]
    process.stderr.write(`two processes: tunnel ${of('tunnel', 'mibs').toFixed(0)} MiB/s, CPU ms per MiB sender ${of('tunnel', 'senderMsPerMib').toFixed(2)} receiver ${of('tunnel', 'receiverMsPerMib').toFixed(2)}; raw stream ${of('raw', 'mibs').toFixed(0)} MiB/s, sender ${of('raw', 'senderMsPerMib').toFixed(2)} receiver ${of('raw', 'receiverMsPerMib').toFixed(2)}; the cipher alone (encrypt + decrypt) ${cipherMsPerMib.toFixed(2)} ms per MiB\n`)
    return [
      row('tunnel-2p-throughput-vs-stream', 'MiB/s', of('tunnel', 'mibs'), of('raw', 'mibs'), '>= 0.9x', of('tunnel', 'mibs') / of('raw', 'mibs') >= 0.9),
      // both ends together, beside the raw stream's; the cipher's share is printed beside it
      row('tunnel-cpu-per-mib', 'ms', tunnelCpu, rawCpu, 'reported', true)
    ]
  } finally {
    peer.stdin.write('quit\n')
    await a.stop()
    const killer = setTimeout(() => { peer.kill() }, 10_000)
    await new Promise(resolve => { if (peer.exitCode != null || peer.signalCode != null) resolve(null); else peer.once('exit', resolve) })
    clearTimeout(killer)
  }
}
