import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** One row of bench/results.json: a measurement beside a baseline from the same run. */
export interface BenchRow {
  name: string
  unit: string
  value: number
  baseline: number
  /** value / baseline */
  ratio: number
  /** Human statement of the target, e.g. "< 1000 ms". */
  target: string
  met: boolean
}

export const RESULTS_PATH = fileURLToPath(new URL('./results.json', import.meta.url))

export function row (name: string, unit: string, value: number, baseline: number, target: string, met: boolean): BenchRow {
  const round = (n: number): number => Math.round(n * 100) / 100
  return { name, unit, value: round(value), baseline: round(baseline), ratio: round(value / baseline), target, met }
}

/** Merge new rows into the results file: a run of one benchmark keeps the others' last rows. */
export function saveResults (rows: BenchRow[]): BenchRow[] {
  let previous: BenchRow[] = []
  try {
    previous = JSON.parse(readFileSync(RESULTS_PATH, 'utf8')) as BenchRow[]
  } catch {}
  const names = new Set(rows.map(r => r.name))
  const merged = [...previous.filter(r => !names.has(r.name)), ...rows]
  writeFileSync(RESULTS_PATH, JSON.stringify(merged, null, 2) + '\n')
  return merged
}

export function printTable (rows: BenchRow[]): void {
  const head = ['benchmark', 'value', 'baseline', 'ratio', 'target', 'met']
  const body = rows.map(r => [r.name, `${r.value} ${r.unit}`, `${r.baseline} ${r.unit}`, `${r.ratio}x`, r.target, r.met ? 'yes' : 'NO'])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(b => (b[i] ?? '').length)))
  for (const line of [head, ...body]) process.stdout.write(line.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ') + '\n')
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] ?? NaN : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}
