/**
 * The receiving end of bench/tunnel-two-process.ts, in a process of its own (as a daemon's
 * other end is). Lines on stdin: `pass` (count from zero, CPU from now; answers `ready`),
 * `quit`. On stdout: `addr <multiaddr>` once listening, `done <CPU µs>` when a pass's bytes
 * arrived.
 */
import { createInterface } from 'node:readline'
import { benchNode, serveSinks, TOTAL } from './bench-node.ts'

const node = await benchNode()
let counted = 0
let cpuAt = process.cpuUsage()
await serveSinks(node, (n) => {
  counted += n
  if (counted < TOTAL) return
  counted = 0
  const used = process.cpuUsage(cpuAt)
  process.stdout.write(`done ${used.user + used.system}\n`)
})
process.stdout.write(`addr ${node.getMultiaddrs()[0]?.toString() ?? ''}\n`)
const commands = createInterface({ input: process.stdin })
for await (const line of commands) {
  if (line === 'pass') {
    counted = 0
    cpuAt = process.cpuUsage()
    process.stdout.write('ready\n')
  } else if (line === 'quit') {
    break
  }
}
commands.close()
await node.stop()
// stdin stays referenced by its stream even when read no more
process.exit(0)
