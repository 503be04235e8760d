/**
 * Tunnel behaviour between two real daemons on a namespaced LAN with two links:
 *  - tunnel-interactive-p99: interactive echo p99 while a forward (bulk, driven by other
 *    processes) saturates the tunnel, vs idle;
 *  - tunnel-failover: the longest gap a receiver sees when the active link is cut, vs the
 *    longest gap of the same stream without a cut.
 */
import { fileURLToPath } from 'node:url'
import { Testbed, CLI, type Device, until } from '../testbed/index.ts'
import { pair } from '../testbed/pairing.ts'
import { startHelper } from '../testbed/processes.ts'
import { echoRoundTrips, openChannel, percentile } from '../testbed/channels.ts'
import { row, type BenchRow } from './results.ts'

const TOOLS = fileURLToPath(new URL('../testbed/tcp-tools.ts', import.meta.url))
const MiB = 1024 * 1024

async function gapOfStream (bed: Testbed, d1: Device, d2: Device, port: number, cut: boolean): Promise<number> {
  const sink = startHelper([process.execPath, TOOLS, 'sink', String(port)], d2.init.ns)
  await sink.line(/listening/)
  const forward = startHelper([process.execPath, CLI, '--data-dir', d1.dataDir, 'forward', String(port + 1), `device-2:${port}`])
  await forward.line(/forwarding/)
  const source = startHelper([process.execPath, TOOLS, 'source', String(port + 1), String(8 * MiB), String(2 * MiB)], d1.init.ns)
  if (cut) {
    await new Promise(resolve => setTimeout(resolve, 1_500))
    bed.lan.setLink(1, 'a', false)
  }
  const result = JSON.parse(await source.line(/sha256|error/, 60_000)) as { reply?: { maxGapMs?: number } }
  forward.kill()
  sink.kill()
  if (cut) bed.lan.setLink(1, 'a', true)
  return result.reply?.maxGapMs ?? NaN
}

export async function tunnelLan (): Promise<BenchRow[]> {
  const bed = new Testbed({ devices: 2, links: 2, args: (i) => ['--interface-kind', 'eth1=wifi', ...(i === 2 ? ['--allow-port', '7100', '--allow-port', '7200', '--allow-port', '7300'] : [])] })
  try {
    const [d1, d2] = bed.devices as [Device, Device]
    for (const d of bed.devices) await d.start()
    await until('found', 10_000, async () => await bed.allSeeEachOther())
    await pair(d2, d1)
    await until('two links', 15_000, async () => (await d1.api.call<Array<{ active: boolean }>>('GET', '/v1/links')).filter(l => l.active).length === 1)

    const interactive = await openChannel(d1, 'device-2', 'echo')
    await echoRoundTrips(interactive, 100)
    const idle = percentile(await echoRoundTrips(interactive, 500), 0.99)
    // the bulk application is another process, as a file transfer would be: a forward at full speed
    const sink = startHelper([process.execPath, TOOLS, 'sink', '7300'], d2.init.ns)
    await sink.line(/listening/)
    const forward = startHelper([process.execPath, CLI, '--data-dir', d1.dataDir, 'forward', '7301', 'device-2:7300'])
    await forward.line(/forwarding/)
    const source = startHelper([process.execPath, TOOLS, 'source', '7301', String(4096 * MiB), String(4096 * MiB)], d1.init.ns)
    await new Promise(resolve => setTimeout(resolve, 500))
    const busy = percentile(await echoRoundTrips(interactive, 500), 0.99)
    for (const helper of [source, forward, sink]) helper.kill()
    interactive.destroy()

    const steady = await gapOfStream(bed, d1, d2, 7100, false)
    await until('wired active again', 15_000, async () => (await d1.api.call<Array<{ active: boolean, kind: string }>>('GET', '/v1/links')).find(l => l.active)?.kind === 'wired')
    const failover = await gapOfStream(bed, d1, d2, 7200, true)
    return [
      row('tunnel-interactive-p99', 'ms', busy, idle, '<= 2x', busy / idle <= 2),
      row('tunnel-failover', 'ms', failover, steady, '< 1000 ms', failover < 1000)
    ]
  } finally {
    await bed.close()
  }
}
