import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { FuzzStats, FuzzTarget } from './targets.ts'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** Heap a whole run may keep beyond what it held after its first inputs. */
export const MAX_HEAP_GROWTH_MIB = 64

const heapMiB = (): number => { collect(); return process.memoryUsage().heapUsed / 2 ** 20 }

/**
 * Run a target: a warm-up tenth, then the rest, with the heap measured after each (collected).
 * Any error that escapes, or memory growing past the bound, is a finding.
 */
export async function fuzzTarget (target: FuzzTarget, random: () => number, inputs: number, dir: string): Promise<{ stats: FuzzStats, seconds: number, heapGrowthMiB: number } | { finding: string }> {
  const started = performance.now()
  const escaped: Error[] = []
  const onEscape = (err: Error): void => { escaped.push(err) }
  process.on('uncaughtException', onEscape)
  process.on('unhandledRejection', onEscape)
  try {
    const warmUp = Math.max(1, Math.floor(inputs / 10))
    const first = await target.run(random, warmUp, dir)
    const before = heapMiB()
    const rest = inputs - warmUp > 0 ? await target.run(random, inputs - warmUp, dir) : { inputs: 0, accepted: 0, refused: 0 }
    const heapGrowthMiB = heapMiB() - before
    if (escaped.length > 0) return { finding: `an error escaped: ${escaped[0]?.stack ?? ''}` }
    if (heapGrowthMiB > MAX_HEAP_GROWTH_MIB) return { finding: `the heap grew by ${heapGrowthMiB.toFixed(0)} MiB` }
    const stats = { inputs: first.inputs + rest.inputs, accepted: first.accepted + rest.accepted, refused: first.refused + rest.refused }
    return { stats, seconds: (performance.now() - started) / 1000, heapGrowthMiB }
  } catch (err) {
    return { finding: (err as Error).name === 'FuzzFinding' ? (err as Error).message : `${(err as Error).stack ?? String(err)}` }
  } finally {
    process.off('uncaughtException', onEscape)
    process.off('unhandledRejection', onEscape)
  }
}
