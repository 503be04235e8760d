import { Command } from 'commander'
import { CliError, UsageError } from './errors.ts'
import { askCarrier, carrierLog, DEFAULT_CARRIER } from '../carrier/admin.ts'
import { parseHostPort } from '../carrier/protocol.ts'
import type { CarriedSms } from '../carrier/server.ts'

function address (text: string): string {
  try {
    parseHostPort(text)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  return text
}

async function ask (carrier: string, request: { op: string } & Record<string, unknown>): Promise<Record<string, unknown>> {
  let answer: Record<string, unknown>
  try {
    answer = await askCarrier(carrier, request)
  } catch (err) {
    throw new CliError((err as Error).message)
  }
  if (answer.op === 'error') throw new CliError(`the carrier refused: ${String(answer.reason)}`)
  return answer
}

/** `companion carrier`: the simulated mobile network, and its `send` and `log`. */
export function carrierCommands (program: Command): void {
  const carrier = program.command('carrier')
    .description('a simulated mobile network on this machine, for demos and tests (phones attach with --sms sim://HOST:PORT/NUMBER)')
    .option('--listen <host:port>', 'where to listen; prints "ready HOST:PORT" when it does', DEFAULT_CARRIER)
    .option('--db <file>', 'keep the log and undelivered messages in this SQLite file (default: in memory)')
    .option('--latency <ms>', 'delay every answer and delivery by this many milliseconds', '0')
    .option('--fail-rate <fraction>', 'refuse this fraction (0-1) of messages with a network failure', '0')
    .action(async (opts: { listen: string, db?: string, latency: string, failRate: string }) => {
      const { host, port } = parseHostPort(address(opts.listen))
      const latencyMs = Number(opts.latency)
      const failRate = Number(opts.failRate)
      if (!Number.isInteger(latencyMs) || latencyMs < 0 || latencyMs > 60_000) throw new UsageError('--latency is milliseconds from 0 to 60000')
      if (!(failRate >= 0 && failRate <= 1)) throw new UsageError('--fail-rate is a fraction from 0 to 1')
      const { Carrier } = await import('../carrier/server.ts')
      const server = new Carrier({ host, port, db: opts.db, latencyMs, failRate })
      let bound: { host: string, port: number }
      try {
        bound = await server.listen()
      } catch (err) {
        throw new CliError(`the carrier could not listen on ${opts.listen}: ${(err as Error).message}`)
      }
      process.stdout.write(`ready ${bound.host}:${bound.port}\n`)
      await new Promise<void>(resolve => {
        const stop = (): void => { void server.close().finally(resolve) }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    })

  carrier.command('send')
    .description('an SMS from the outside world to a phone attached to the carrier')
    .requiredOption('--to <number>', 'the attached phone\'s number')
    .requiredOption('--from <number>', 'the sender, e.g. +15550109999')
    .argument('<text>', 'the message')
    .option('--carrier <host:port>', 'the carrier', DEFAULT_CARRIER)
    .action(async (text: string, opts: { to: string, from: string, carrier: string }) => {
      const answer = await ask(address(opts.carrier), { op: 'inject', from: opts.from, to: opts.to, body: text })
      process.stdout.write(`delivered to the network as message ${String(answer.id)}\n`)
    })

  carrier.command('log')
    .description('every message the carrier carried, in order')
    .option('--carrier <host:port>', 'the carrier', DEFAULT_CARRIER)
    .option('--json', 'print JSON')
    .action(async (opts: { carrier: string, json?: boolean }) => {
      // page by page as it arrives: a carrier's log can hold hundreds of thousands of messages
      const json = opts.json === true
      let first = true
      try {
        for await (const entries of carrierLog(address(opts.carrier))) {
          await write(json ? jsonEntries(entries, first) : logRows(entries, first))
          first = false
        }
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      await write(json ? (first ? '[]\n' : '\n]\n') : (first ? logRows([], true) : ''))
    })
}

/** A page of log entries as part of one JSON array (`[` before the first, `]` written at the end). */
function jsonEntries (entries: CarriedSms[], first: boolean): string {
  if (entries.length === 0) return ''
  return (first ? '[\n' : ',\n') + entries.map(e => '  ' + JSON.stringify(e)).join(',\n')
}

const LOG_HEADERS = ['ID', 'FROM', 'TO', 'AT', 'TEXT']
/** Fixed widths, so pages printed as they arrive line up (ids to 9,999,999; numbers to 16 characters). */
const LOG_WIDTHS = [7, 16, 16, 24]

function logRows (entries: CarriedSms[], first: boolean): string {
  const rows = entries.map(e => [String(e.id), e.from, e.to, new Date(e.at).toISOString(), e.body.replace(/\s+/g, ' ').slice(0, 60)])
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(LOG_WIDTHS[i] ?? 0)).join('  ').trimEnd() + '\n'
  return (first ? line(LOG_HEADERS) : '') + rows.map(line).join('')
}

/** Write with back-pressure, so a log piped into `head` or a slow terminal is not buffered whole. */
async function write (text: string): Promise<void> {
  if (text === '' || process.stdout.write(text)) return
  await new Promise<void>(resolve => process.stdout.once('drain', resolve))
}
