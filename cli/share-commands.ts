import { ProgressBar } from './progress.ts'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { CliError, UsageError } from './errors.ts'
import { printJson, table } from './output.ts'
import type { ShareView } from '../share/constants.ts'
import { formatBytes } from '../blobs/blob-ref.ts'

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/** `500M`, `4G`, `1048576`: bytes; undefined when it is not a size. */
export function parseSize (text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim())
  if (m == null) return undefined
  const bytes = Math.floor(Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1))
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined
}

/** The progress of every transfer together: bytes, rate, time left. */
class Transfers {
  private readonly started = Date.now()
  private readonly bytes = new Map<string, { bytes: number, size: number }>()
  readonly bar: ProgressBar

  constructor (bar: ProgressBar) {
    this.bar = bar
  }

  update (key: string, bytes: number, size: number): void {
    this.bytes.set(key, { bytes, size })
    let done = 0
    let total = 0
    for (const t of this.bytes.values()) { done += t.bytes; total += t.size }
    const seconds = (Date.now() - this.started) / 1000
    const rate = seconds > 0 ? done / seconds : 0
    const left = rate > 0 ? Math.ceil((total - done) / rate) : undefined
    this.bar.draw(total === 0 ? 1 : done / total, `${formatBytes(done)} of ${formatBytes(total)}, ${formatBytes(Math.round(rate))}/s${left == null ? '' : `, ${left} s left`}`)
  }
}

/** `companion share <file>... --to <device>`, `companion share --text`, `companion share cancel <id>`, `companion shares`. */
export function shareCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  program.command('share')
    .description('send files (or, with --text, a snippet) to your other devices; exit 0 once every file is stored and verified there. `share cancel <id>` stops one')
    .argument('[files...]', 'files to send')
    .option('--to <device>', 'a device of your account (name, id or id prefix), repeatable, or all', (d: string, list: string[]) => [...list, d], [] as string[])
    .option('--text <text>', 'a snippet or link instead of files, shown on the other device')
    .option('--json', 'print one JSON line per step')
    .action(async (files: string[], opts: { to: string[], text?: string, json?: boolean }, cmd: Command) => {
      const api = client(cmd)
      if (files[0] === 'cancel' && files.length === 2 && !existsSync('cancel')) {
        const cancelled = await api.request(API.cancelShare, { params: { id: files[1] ?? '' } })
        if (opts.json === true) printJson(cancelled)
        else for (const t of cancelled) process.stdout.write(`${t.id} to ${t.device}: ${t.state}${t.reason == null ? '' : ` (${t.reason})`}\n`)
        return
      }
      if (opts.to.length === 0) throw new UsageError('say where: --to <device> (repeatable) or --to all')
      if ((files.length > 0) === (opts.text != null)) throw new UsageError('give files, or --text "…", not both')
      const body = opts.text != null ? { text: opts.text, to: opts.to } : { paths: files.map(f => resolve(f)), to: opts.to }
      const progress = new Transfers(ProgressBar.onStderr(opts.json === true))
      let final: ShareView[] = []
      for await (const line of api.follow(API.share, { body })) {
        if (opts.json === true) process.stdout.write(JSON.stringify(line) + '\n')
        if (line.event === 'progress') progress.update(`${line.id} ${line.device}`, line.bytes, line.size)
        if (line.event === 'end') final = line.transfers
      }
      progress.bar.end()
      if (final.length === 0) throw new CliError('the daemon ended the share before it finished; see companion shares')
      const failed = final.filter(t => t.state !== 'done')
      if (opts.json !== true) for (const t of final) process.stdout.write(`${t.name} → ${t.device.slice(-8)}: ${t.state}${t.reason == null ? '' : ` (${t.reason})`}\n`)
      if (failed.length > 0) throw new CliError(`${failed.length} of ${final.length} did not arrive: ${failed[0]?.reason ?? failed[0]?.state ?? ''}`)
    })

  program.command('shares')
    .description('files and snippets sent and received, newest first')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await client(cmd).request(API.shares)
      if (opts.json === true) { printJson(list); return }
      if (list.length === 0) { process.stdout.write('no shares yet\n'); return }
      process.stdout.write(table(['ID', 'DIR', 'DEVICE', 'NAME', 'SIZE', 'STATE', 'WHERE'], list.map(t => [t.id, t.direction, t.device.slice(-8), t.kind === 'text' ? `“${t.name}”` : t.name, formatBytes(t.size), `${t.state}${t.state === 'sending' || t.state === 'paused' ? ` ${Math.floor(100 * t.bytes / Math.max(1, t.size))}%` : ''}`, t.reason ?? t.path ?? ''])) + '\n')
    })
}
