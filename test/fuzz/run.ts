/**
 * `npm run fuzz [-- --inputs N] [--seed S] [--target NAME...]`: feed every target N mutated
 * inputs (100,000 by default), seeded so that a failure is found again from the seed it prints.
 * Exits 1 on a finding or when memory grows past the bound.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { seededRandom } from '../../testbed/sms-events.ts'
import { fuzzTarget } from './harness.ts'
import { ALL_TARGETS as TARGETS } from './all-targets.ts'

const { values } = parseArgs({ options: { inputs: { type: 'string', default: '100000' }, seed: { type: 'string' }, target: { type: 'string', multiple: true } } })
const inputs = Number(values.inputs)
const seed = values.seed == null ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!Number.isSafeInteger(inputs) || inputs < 1 || !Number.isSafeInteger(seed)) {
  process.stderr.write('usage: npm run fuzz -- [--inputs N] [--seed S] [--target events|frames|pdu|carrier|tunnel|records|dht|pairing|history|numbers|blobs|blob-header|share|mdns]\n')
  process.exit(2)
}
const chosen = TARGETS.filter(t => values.target == null || values.target.includes(t.name))
// the stores live in memory-backed files: fsync costs nothing there, and nothing else changes
const dir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'cl-fuzz-'))
let failed = false
try {
  for (const target of chosen) {
    const result = await fuzzTarget(target, seededRandom(seed), inputs, dir)
    if ('finding' in result) {
      failed = true
      process.stdout.write(`${target.name}: FAILED with --seed ${seed} --inputs ${inputs}: ${result.finding}\n`)
    } else {
      const { stats, seconds, heapGrowthMiB } = result
      process.stdout.write(`${target.name}: ${stats.inputs} inputs, ${stats.accepted} taken, ${stats.refused} refused clearly, heap growth ${heapGrowthMiB.toFixed(1)} MiB, ${seconds.toFixed(1)} s (seed ${seed})\n`)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
