import { flushCompileCache } from 'node:module'
import { enable } from '@libp2p/logger'
import { CliError } from './errors.ts'
import { runWithDaemonNodeFlags } from './node-flags.ts'

export interface DaemonCommandOptions {
  dataDir: string
  name?: string
  kind?: string
  sms?: string
  smsRate?: number
  smsDeny?: string[]
  smsAllow?: string[]
  listen?: string[]
  mdns: boolean
  bootstrap?: string[]
  interfaceKinds?: string[]
  allowPorts?: string[]
  tunnelGraceS?: number
  uiPort?: number
  ui: boolean
  discoverable: boolean
  readReceipts?: boolean
  downloads?: string
  shareMax?: number
}

/**
 * `companion daemon`: run in the foreground until SIGINT/SIGTERM. The daemon is loaded only
 * here, so every other command stays a thin client that never loads libp2p.
 */
/** After a clean stop, how long the process may take to exit by itself. */
const EXIT_GRACE_MS = 200

export async function runDaemon (options: DaemonCommandOptions): Promise<void> {
  // before anything is opened: this may replace the process with itself, with V8 flags
  runWithDaemonNodeFlags()
  // errors are worth seeing by default; everything else with DEBUG=companion:*
  if (process.env.DEBUG == null || process.env.DEBUG === '') enable('companion:*:error')
  // handlers first: a signal that arrives during start-up, or the instant `ready` is printed,
  // must still stop the daemon cleanly rather than kill it
  let requested = false
  let onSignal = (): void => { requested = true }
  const handler = (): void => { onSignal() }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)

  const { Daemon } = await import('../daemon/daemon.ts')
  let daemon: Awaited<ReturnType<typeof Daemon.start>>
  try {
    daemon = await Daemon.start({
      dataDir: options.dataDir,
      name: options.name,
      kind: options.kind,
      listen: options.listen,
      mdns: options.mdns,
      bootstrap: options.bootstrap,
      sms: options.sms,
      smsRate: options.smsRate,
      smsDeny: options.smsDeny,
      smsAllow: options.smsAllow,
      interfaceKinds: options.interfaceKinds,
      allowPorts: options.allowPorts,
      tunnelGraceS: options.tunnelGraceS,
      uiPort: options.uiPort,
      ui: options.ui,
      discoverable: options.discoverable,
      readReceipts: options.readReceipts,
      downloads: options.downloads,
      shareMax: options.shareMax
    })
  } catch (err) {
    throw new CliError(`the daemon could not start: ${(err as Error).message}`)
  }
  // a misbehaving peer must never take the daemon down: log and carry on
  process.on('uncaughtException', (err) => { process.stderr.write(`companion: unexpected error (continuing): ${err.stack ?? err.message}\n`) })
  process.on('unhandledRejection', (err) => { process.stderr.write(`companion: unhandled rejection (continuing): ${(err as Error)?.stack ?? String(err)}\n`) })

  await new Promise<void>(resolve => {
    onSignal = (): void => {
      const force = setTimeout(() => { process.exit(1) }, 10_000)
      force.unref()
      void daemon.stop().finally(() => {
        // everything is closed and flushed; libp2p's relay client can leave a refresh timer
        // behind when a reservation completes during shutdown: do not wait hours for it
        setTimeout(() => { process.exit() }, EXIT_GRACE_MS).unref()
        resolve()
      })
    }
    if (requested) onSignal()
    else {
      process.stdout.write(`ready ${daemon.id.toString()} ${daemon.socketPath}\n`)
      // what the start compiled, for the next start: Node writes it only at exit otherwise
      flushCompileCache()
    }
  })
}
