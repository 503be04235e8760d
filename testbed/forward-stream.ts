import { fileURLToPath } from 'node:url'
import { CLI, type Device } from './device.ts'
import { startHelper, type Helper } from './processes.ts'

const TOOLS = fileURLToPath(new URL('./tcp-tools.ts', import.meta.url))

/** What the source prints once the sink answered: what it sent, and what arrived. */
export interface StreamResult { sent: number, sha256: string, reply: { bytes: number, sha256: string, maxGapMs?: number }, error?: string }

export interface ForwardStream {
  /** Resolves once every byte was sent and the sink answered with its count and hash. */
  done: Promise<StreamResult>
  forward: Helper
  sink: Helper
}

/**
 * Stream `bytes` pseudo-random bytes at `rate` bytes/s from `from`'s namespace through
 * `companion forward` (a channel of the user tunnel) to a hashing sink in `to`'s namespace,
 * listening on `ports.sink` (which `to` must allow); the forward listens on `ports.forward`.
 */
export async function streamThroughForward (from: Device, to: Device, bytes: number, rate: number, ports: { sink: number, forward: number }): Promise<ForwardStream> {
  const sink = startHelper([process.execPath, TOOLS, 'sink', String(ports.sink)], to.init.ns)
  await sink.line(/listening/)
  const forward = startHelper([process.execPath, CLI, '--data-dir', from.dataDir, 'forward', String(ports.forward), `${to.init.name ?? to.id}:${ports.sink}`])
  await forward.line(/forwarding/)
  const source = startHelper([process.execPath, TOOLS, 'source', String(ports.forward), String(bytes), String(rate)], from.init.ns)
  const done = source.line(/sha256|error/, 120_000).then(line => JSON.parse(line) as StreamResult)
  return { done, forward, sink }
}
