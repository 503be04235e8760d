/**
 * `npm run soak -- --minutes N [--seed S] [--devices K] [--rate TEXTS_PER_S] [--heap DIR]`:
 * real daemons in namespaces under a seeded load with faults (soak/soak.ts); prints progress,
 * then the report as JSON; exits 1 if an invariant failed. A run of 30 minutes or more also
 * writes the `soak-rss-growth` row to bench/results.json.
 */
import { parseArgs } from 'node:util'
import { row, saveResults } from '../bench/results.ts'
import { GROWTH_TARGET_MB_PER_HOUR, runSoak } from './soak.ts'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    devices: { type: 'string', default: '3' },
    rate: { type: 'string' },
    heap: { type: 'string' }
  }
})

function whole (name: string, text: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} is a whole number from ${min} to ${max}, not "${text}"\n`)
    process.exit(2)
  }
  return n
}

const minutes = whole('minutes', values.minutes, 1, 24 * 60)
const rate = values.rate == null ? undefined : Number(values.rate)
if (rate != null && !(rate > 0 && rate <= 50)) {
  process.stderr.write('--rate is texts per second, more than 0 and at most 50\n')
  process.exit(2)
}
const started = Date.now()
const say = (line: string): void => { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`) }
const report = await runSoak({
  minutes,
  seed: whole('seed', values.seed, 0, 2 ** 31),
  devices: whole('devices', values.devices, 2, 8),
  ...(rate == null ? {} : { rate }),
  ...(values.heap == null ? {} : { heapDir: values.heap }),
  say
})
process.stdout.write(JSON.stringify(report, null, 2) + '\n')
if (minutes >= 30 && values.heap == null) {
  const growth = report.laptopGrowthMbPerHour
  saveResults([row('soak-rss-growth', 'MB/h', growth, GROWTH_TARGET_MB_PER_HOUR, `<= ${GROWTH_TARGET_MB_PER_HOUR} MB/h after a 5-minute warm-up (${minutes}-minute soak)`, growth <= GROWTH_TARGET_MB_PER_HOUR)])
}
say(`${report.failures.length === 0 ? 'passed' : `FAILED (${report.failures.length})`} in ${Math.round((Date.now() - started) / 60_000)} min`)
process.exit(report.failures.length === 0 ? 0 : 1)
