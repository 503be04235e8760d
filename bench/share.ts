/**
 * share-throughput: MiB/s of a 1 GiB `companion share` between two daemons on the namespaced
 * LAN (the CLI from start to exit: hashing, sending, verifying, storing), vs a `forward` of
 * the same number of bytes over the same tunnel in the same run (issue 21: >= 0.9x);
 * share-interactive-p99: an interactive echo's p99 while that share runs, vs idle (<= 2x, as
 * tunnel-interactive-p99 with a forward).
 */
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Testbed, CLI, tempDir, type Device, until } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { startHelper } from '../testbed/processes.ts'
import { bigFile } from '../testbed/files.ts'
import { echoRoundTrips, openChannel, percentile } from '../testbed/channels.ts'
import { row, type BenchRow } from './results.ts'

const TOOLS = fileURLToPath(new URL('../testbed/tcp-tools.ts', import.meta.url))
const MiB = 1024 * 1024
const SIZE = 1024 * MiB

async function forwardSeconds (d1: Device, d2: Device): Promise<number> {
  const sink = startHelper([process.execPath, TOOLS, 'sink', '7400'], d2.init.ns)
  await sink.line(/listening/)
  const forward = startHelper([process.execPath, CLI, '--data-dir', d1.dataDir, 'forward', '7401', 'device-2:7400'])
  await forward.line(/forwarding/)
  const started = performance.now()
  const source = startHelper([process.execPath, TOOLS, 'source', '7401', String(SIZE), String(100_000 * MiB)], d1.init.ns)
  const result = JSON.parse(await source.line(/sha256|error/, 300_000)) as { reply?: { bytes?: number } }
  const seconds = (performance.now() - started) / 1000
  for (const helper of [forward, sink]) helper.kill()
  if (result.reply?.bytes !== SIZE) throw new Error(`the forward carried ${String(result.reply?.bytes)} bytes`)
  return seconds
}

export async function shareBenchmarks (): Promise<BenchRow[]> {
  const tmp = tempDir()
  const bed = new Testbed({ devices: 2, links: 1, args: (i) => ['--downloads', join(tmp.path, `downloads-${i}`), '--share-max', '2G', ...(i === 2 ? ['--allow-port', '7400'] : [])] })
  try {
    const [d1, d2] = bed.devices as [Device, Device]
    for (const d of bed.devices) await d.start()
    await until('found', 10_000, async () => await bed.allSeeEachOther())
    await pair(d2, d1)
    await until('a link', 15_000, async () => (await d1.api.call<Array<{ active: boolean }>>('GET', '/v1/links')).some(l => l.active))
    const file = await bigFile(join(tmp.path, 'one-gib.bin'), SIZE)
    const forward = await forwardSeconds(d1, d2)
    const started = performance.now()
    const shared = await d1.cli('share', file.path, '--to', d2.id)
    const share = (performance.now() - started) / 1000
    if (shared.code !== 0) throw new Error(`the share failed: ${shared.stderr}`)
    const rate = SIZE / MiB / share
    const baseline = SIZE / MiB / forward
    // the same file again (a new copy on the other side), an echo beside it
    const interactive = await openChannel(d1, 'device-2', 'echo')
    await echoRoundTrips(interactive, 100)
    const idle = percentile(await echoRoundTrips(interactive, 300), 0.99)
    const again = d1.cli('share', file.path, '--to', d2.id)
    await until('the share under way', 30_000, async () => (await d1.api.call<Array<{ state: string, bytes: number }>>('GET', '/v1/shares')).some(t => t.state === 'sending' && t.bytes > 0), 50)
    const busy = percentile(await echoRoundTrips(interactive, 300), 0.99)
    interactive.destroy()
    if ((await again).code !== 0) throw new Error('the second share failed')
    return [
      row('share-throughput', 'MiB/s', rate, baseline, '>= 0.9x', rate / baseline >= 0.9),
      row('share-interactive-p99', 'ms', busy, idle, '<= 2x', busy / idle <= 2)
    ]
  } finally {
    await bed.close()
    tmp.cleanup()
  }
}
