/**
 * share-throughput: MiB/s of a 1 GiB `companion share` between two daemons on the namespaced
 * LAN (the CLI from start to exit: hashing, sending, verifying, storing), vs a `forward` of
 * the same number of bytes over the same tunnel in the same run (issue 21: >= 0.9x).
 */
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { Testbed, CLI, tempDir, type Device, until } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { startHelper } from '../testbed/processes.ts'
import { bigFile } from '../testbed/files.ts'
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
    return [row('share-throughput', 'MiB/s', rate, baseline, '>= 0.9x', rate / baseline >= 0.9)]
  } finally {
    await bed.close()
    tmp.cleanup()
  }
}
