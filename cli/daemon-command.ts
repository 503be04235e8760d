import { enable } from '@libp2p/logger'
import { CliError } from './errors.ts'

export interface DaemonCommandOptions {
  dataDir: string
  name?: string
  kind?: string
  sms?: string
  smsRate?: string
  listen?: string[]
  mdns: boolean
  bootstrap?: string[]
}

/**
 * `companion daemon`: run in the foreground until SIGINT/SIGTERM. The daemon is loaded only
 * here, so every other command stays a thin client that never loads libp2p.
 */
export async function runDaemon (options: DaemonCommandOptions): Promise<void> {
  // errors are worth seeing by default; everything else with DEBUG=companion:*
  if (process.env.DEBUG == null || process.env.DEBUG === '') enable('companion:*:error')
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
      sms: options.sms
    })
  } catch (err) {
    throw new CliError(`the daemon could not start: ${(err as Error).message}`)
  }
  // a misbehaving peer must never take the daemon down: log and carry on
  process.on('uncaughtException', (err) => { process.stderr.write(`companion: unexpected error (continuing): ${err.stack ?? err.message}\n`) })
  process.on('unhandledRejection', (err) => { process.stderr.write(`companion: unhandled rejection (continuing): ${(err as Error)?.stack ?? String(err)}\n`) })

  process.stdout.write(`ready ${daemon.id.toString()} ${daemon.socketPath}\n`)
  await new Promise<void>(resolve => {
    let stopping = false
    const stop = (): void => {
      if (stopping) return
      stopping = true
      const force = setTimeout(() => { process.exit(1) }, 10_000)
      force.unref()
      void daemon.stop().finally(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
