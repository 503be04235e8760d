/**
 * `npm run bench [-- NAME...]`: run the benchmarks (all, or those named), print a table and
 * merge the rows into bench/results.json. Each measures against a baseline in the same run.
 */
import { printTable, saveResults, type BenchRow } from './results.ts'
import { runWithDaemonNodeFlags } from '../cli/node-flags.ts'

// in-process measurements (the tunnel's throughput) run with the daemon's V8 settings; the
// benchmarks are loaded after, so libp2p is loaded once, in the process that measures
runWithDaemonNodeFlags()

/** Benchmark groups by name; a group may produce several rows. */
const GROUPS: Record<string, { rows: string[], run: () => Promise<BenchRow[]> }> = {
  discovery: { rows: ['discovery-seen', 'idle-rss', 'idle-rss-start'], run: async () => await (await import('./discovery.ts')).discoveryBenchmarks() },
  throughput: { rows: ['tunnel-throughput-vs-stream', 'tunnel-throughput-vs-tcp', 'tcp-plus-cipher-vs-tcp'], run: async () => await (await import('./tunnel-throughput.ts')).tunnelThroughput() },
  'throughput-2p': { rows: ['tunnel-2p-throughput-vs-stream', 'tunnel-cpu-per-mib'], run: async () => await (await import('./tunnel-two-process.ts')).tunnelTwoProcess() },
  tunnel: { rows: ['tunnel-interactive-p99', 'tunnel-failover'], run: async () => await (await import('./tunnel-lan.ts')).tunnelLan() },
  idle: { rows: ['idle-cpu', 'idle-cpu-settling', 'idle-dead-link'], run: async () => await (await import('./idle.ts')).idleBenchmarks() },
  scale: { rows: ['scale-20-seen', 'scale-20-idle-cpu', 'scale-20-rss'], run: async () => await (await import('./scale.ts')).scaleBenchmarks() },
  sms: { rows: ['sms-burst-rate', 'sms-burst-p50', 'sms-burst-p99'], run: async () => await (await import('./sms-burst.ts')).smsBurst() },
  share: { rows: ['share-throughput', 'share-interactive-p99'], run: async () => await (await import('./share.ts')).shareBenchmarks() },
  'sms-history': { rows: ['sms-history-import', 'sms-history-newest-50', 'sms-conversations-50k', 'sms-search-50k'], run: async () => await (await import('./sms-history.ts')).smsHistory() }
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter(w => !Object.entries(GROUPS).some(([g, { rows }]) => g === w || rows.includes(w)))
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.entries(GROUPS).map(([g, { rows }]) => `${g} (${rows.join(', ')})`).join('; ')}\n`)
  process.exit(2)
}

const rows: BenchRow[] = []
for (const [name, group] of Object.entries(GROUPS)) {
  if (wanted.length > 0 && !wanted.includes(name) && !group.rows.some(r => wanted.includes(r))) continue
  process.stderr.write(`running ${name}...\n`)
  rows.push(...(await group.run()).filter(r => wanted.length === 0 || wanted.includes(name) || wanted.includes(r.name)))
}
saveResults(rows)
printTable(rows)
