import { ProgressBar } from './progress.ts'
import { Command, Option } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { CliError, UsageError } from './errors.ts'
import { printJson, table } from './output.ts'
import type { MessageView } from '../sms/view-types.ts'
import { attachmentCommand, uploadFiles } from './attachment-commands.ts'

const FAILED = new Set(['failed', 'unauthorized'])

function when (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19)
}

function describeStatus (m: MessageView): string {
  return m.reason == null ? m.status : `${m.status} (${m.reason})`
}

function printMessages (messages: MessageView[]): void {
  if (messages.length === 0) {
    process.stdout.write('no messages\n')
    return
  }
  for (const m of messages) {
    const parties = m.direction === 'out' ? m.to.join(', ') : (m.from ?? '?')
    const who = `${m.direction === 'out' ? 'to' : 'from'} ${m.name == null ? parties : `${m.name} (${parties})`}`
    const notes = `${m.route === 'network' ? ', over companion-link' : ''}${m.seenAt == null ? '' : ', read by them'}${m.read || m.direction === 'out' ? '' : ', unread'}`
    const files = m.attachments.map((a, i) => `\n  [file ${i}: ${a.name}, ${a.size} bytes${a.here ? '' : ', not on this device yet'}]`).join('')
    process.stdout.write(`${when(m.createdAt)}  ${who}  [${describeStatus(m)}${notes}]  ${m.id}\n  ${m.body.replace(/\n/g, '\n  ')}${files}\n`)
  }
}

/** `companion sms send|list|conversations|watch|import|read`. */
export function smsCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  const sms = program.command('sms').description('text through a phone of the account, and see every conversation on every device')

  sms.command('send')
    .description('send a text; prints the message id at once (delivery to the phone happens in the background)')
    .argument('<to>', 'recipient number(s) in international form, comma-separated, e.g. +15550102030')
    .argument('<text>', 'the message')
    .option('--via <device>', 'the phone to send it through (default: the best reachable one)')
    .option('--network-only', 'only device to device, to a verified companion-link number (never as SMS)')
    .option('--sms-only', 'only as SMS through a phone, even to a verified companion-link number')
    .option('--attach <file>', 'a file to send with it (repeatable; up to 25 MiB each; device to device only, to a verified number)', (file: string, files: string[]) => [...files, file], [] as string[])
    .addOption(new Option('--wait <status>', 'wait until the message is accepted, sent or delivered (exit 1 if it fails)').choices(['accepted', 'sent', 'delivered']))
    .option('--json', 'print JSON')
    .action(async (to: string, text: string, opts: { via?: string, wait?: string, json?: boolean, networkOnly?: boolean, smsOnly?: boolean, attach: string[] }, cmd: Command) => {
      const recipients = to.split(',').map(s => s.trim()).filter(Boolean)
      if (recipients.length === 0) throw new UsageError('give at least one recipient')
      if (opts.networkOnly === true && opts.smsOnly === true) throw new UsageError('--network-only and --sms-only exclude each other')
      const route = opts.networkOnly === true ? 'network' : opts.smsOnly === true ? 'sms' : undefined
      if (opts.attach.length > 0 && opts.smsOnly === true) throw new UsageError('files go only device to device: --attach and --sms-only exclude each other')
      const api = client(cmd)
      const attachments = await uploadFiles(api, opts.attach)
      const sent = await api.request(API.send, { body: { to: recipients, body: text, ...(opts.via == null ? {} : { via: opts.via }), ...(route == null ? {} : { route }), ...(attachments.length === 0 ? {} : { attachments }) } })
      let message: { id: string, to: string[], via: string | null, status: string, reason?: string } = sent
      if (opts.json !== true) {
        process.stdout.write(`${message.id}\n`)
        // stdout stays the id alone, for scripts; how it goes out is for the person
        process.stderr.write(attachments.length > 0 ? `device to device, with ${attachments.length} file${attachments.length === 1 ? '' : 's'}\n` : `${sent.parts} SMS part${sent.parts === 1 ? '' : 's'} per recipient, ${sent.encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'}\n`)
      }
      if (opts.wait != null && !FAILED.has(message.status)) {
        for await (const line of api.follow(API.waitFor, { params: { id: message.id }, query: { status: opts.wait as 'accepted' | 'sent' | 'delivered' } })) {
          const m = line as unknown as MessageView
          message = { id: m.id, to: m.to, via: m.via, status: m.status, ...(m.reason == null ? {} : { reason: m.reason }) }
        }
      }
      if (opts.json === true) printJson({ ...message, parts: sent.parts, encoding: sent.encoding })
      if (FAILED.has(message.status)) throw new CliError(`the message ${message.status === 'unauthorized' ? 'was refused' : 'failed'}: ${message.reason ?? message.status}`)
      if (opts.wait != null && opts.json !== true) process.stdout.write(`${message.status}\n`)
    })

  attachmentCommand(sms, client)

  sms.command('list')
    .description('messages, newest last')
    .option('--with <number>', 'only the conversation with this number (or numbers, comma-separated)')
    .option('--search <text>', 'only messages containing this text')
    .option('--limit <n>', 'at most this many (the newest)', '100')
    .option('--json', 'print JSON')
    .action(async (opts: { with?: string, search?: string, limit: string, json?: boolean }, cmd: Command) => {
      const limit = Number(opts.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit is a whole number from 1 to 10000')
      const query = new URLSearchParams({ limit: String(limit) })
      if (opts.with != null) query.set('with', opts.with)
      if (opts.search != null) query.set('search', opts.search)
      const messages = await client(cmd).call<MessageView[]>('GET', `/v1/sms?${query.toString()}`)
      if (opts.json === true) printJson(messages)
      else printMessages(messages)
    })

  sms.command('conversations')
    .description('conversations, newest first, with unread counts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await client(cmd).request(API.conversations)
      if (opts.json === true) printJson(list)
      else if (list.length === 0) process.stdout.write('no conversations\n')
      else process.stdout.write(table(['NAME', 'WITH', 'MESSAGES', 'UNREAD', 'LAST', 'TEXT'], list.map(c => [c.name ?? '-', c.numbers.join(', '), String(c.messages), String(c.unread), when(c.last.createdAt), c.last.body.replace(/\s+/g, ' ').slice(0, 40)])) + '\n')
    })

  sms.command('watch')
    .description('print every new message, status change and read, as it happens, until interrupted')
    .option('--json', 'one JSON object per line: { type, message }')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const abort = new AbortController()
      process.once('SIGINT', () => { abort.abort() })
      process.once('SIGTERM', () => { abort.abort() })
      // stdout is the events alone; that it is following is for the person (and for tests)
      const following = (): void => { process.stderr.write('watching messages; Ctrl-C to stop\n') }
      for await (const event of client(cmd).events(['sms'], abort.signal, following)) {
        const { type, message } = event.data as { type: string, message: MessageView }
        if (opts.json === true) process.stdout.write(JSON.stringify({ type, message }) + '\n')
        else process.stdout.write(`${type.padEnd(7)} ${message.direction === 'out' ? `to ${message.to.join(', ')}` : `from ${message.from ?? '?'}`}${message.name == null ? '' : ` (${message.name})`}  ${describeStatus(message)}  ${message.id}\n`)
      }
    })

  sms.command('import')
    .description('bring the phone\'s own history (inbox and sent texts, contacts) to every device; what is there already is not added again')
    .option('--since <date>', 'only texts from this date on, e.g. 2026-01-31')
    .option('--via <device>', 'the phone whose store to read (default: this device if it is one, else the one reachable phone)')
    .option('--json', 'one JSON object per line: progress, then { event: done, scanned, added, contacts }')
    .action(async (opts: { since?: string, via?: string, json?: boolean }, cmd: Command) => {
      const since = opts.since == null ? undefined : Date.parse(opts.since)
      if (since != null && !Number.isFinite(since)) throw new UsageError(`--since "${opts.since}" is not a date; e.g. 2026-01-31`)
      const progress = ProgressBar.onStderr(opts.json === true)
      const body = { ...(since == null ? {} : { since }), ...(opts.via == null ? {} : { via: opts.via }) }
      for await (const line of client(cmd).follow(API.importHistory, { body })) {
        if (opts.json === true) process.stdout.write(JSON.stringify(line) + '\n')
        if (line.event === 'failed') { progress.end(); throw new CliError(line.message) }
        if (line.event === 'progress') progress.draw(undefined, `${line.scanned} texts read, ${line.added} new`)
        if (line.event === 'done') {
          progress.end()
          if (opts.json !== true) process.stdout.write(`${line.scanned} texts read from the phone, ${line.added} new; ${line.contacts} contacts new or changed\n`)
          return
        }
      }
      progress.end()
      throw new CliError('the daemon ended the import without saying how it went; see companion sms conversations')
    })

  sms.command('read')
    .description('mark a message, or every message with a number, read on every device')
    .argument('<target>', 'a message id or a phone number')
    .action(async (target: string, _opts: unknown, cmd: Command) => {
      const result = await client(cmd).request(API.read, { body: { target } })
      process.stdout.write(`${result.read} message${result.read === 1 ? '' : 's'} marked read\n`)
    })
}
