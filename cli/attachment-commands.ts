import { createWriteStream, existsSync } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API, urlOf } from '../daemon/control/contract.ts'
import { CliError, UsageError } from './errors.ts'
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, safeName } from '../sms/attachment-shape.ts'
import type { Attachment, MessageView } from '../sms/view-types.ts'

/** Media types by file extension, for what the CLI uploads (the page has the browser's). */
const TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.avif': 'image/avif', '.heic': 'image/heic',
  '.pdf': 'application/pdf', '.txt': 'text/plain', '.md': 'text/markdown', '.csv': 'text/csv', '.zip': 'application/zip',
  '.mp3': 'audio/mpeg', '.m4a': 'audio/mp4', '.ogg': 'audio/ogg', '.mp4': 'video/mp4', '.mov': 'video/quicktime', '.webm': 'video/webm', '.vcf': 'text/vcard'
}

/** Upload each file for a text (`sms send --attach`); what the send names them by. */
export async function uploadFiles (api: ControlClient, files: string[]): Promise<Attachment[]> {
  if (files.length > MAX_ATTACHMENTS) throw new UsageError(`a text carries at most ${MAX_ATTACHMENTS} files`)
  const out: Attachment[] = []
  for (const file of files) {
    const info = await stat(file).catch(() => { throw new CliError(`cannot read ${file}`) })
    if (!info.isFile()) throw new UsageError(`${file} is not a file`)
    if (info.size === 0) throw new UsageError(`${file} is empty`)
    if (info.size > MAX_ATTACHMENT_BYTES) throw new UsageError(`${file} is ${Math.round(info.size / 1024 / 1024)} MiB; an attachment is at most ${MAX_ATTACHMENT_BYTES / 1024 / 1024} MiB`)
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'
    out.push(await api.upload<Attachment>(urlOf(API.upload, { query: { name: basename(file) } }), file, type))
  }
  return out
}

/** `companion sms attachment <id>`: save a file a text carries (fetched from a device of the account if this one lacks it). */
export function attachmentCommand (sms: Command, client: (cmd: Command) => ControlClient): void {
  sms.command('attachment')
    .description('save a file a text carries (fetched from another device of the account when this one does not hold it)')
    .argument('<id>', 'the message id (companion sms list)')
    .option('--index <n>', 'which of its files, from 0', '0')
    .option('--out <file>', 'where to write it (- for stdout); default: its name, in the current directory')
    .action(async (id: string, opts: { index: string, out?: string }, cmd: Command) => {
      const index = Number(opts.index)
      if (!Number.isInteger(index) || index < 0 || index >= MAX_ATTACHMENTS) throw new UsageError(`--index is a whole number from 0 to ${MAX_ATTACHMENTS - 1}`)
      const api = client(cmd)
      const message = await api.request(API.message, { params: { id } }) as MessageView
      const file = message.attachments[index]
      if (file == null) throw new CliError(message.attachments.length === 0 ? `message ${id} carries no files` : `message ${id} carries ${message.attachments.length} file(s): --index 0 to ${message.attachments.length - 1}`)
      const out = opts.out ?? join(process.cwd(), safeName(file.name))
      if (opts.out == null && existsSync(out)) throw new CliError(`${out} exists; choose another name with --out`)
      const res = await api.download(urlOf(API.attachment, { params: { id, index: String(index) }, query: { download: '1' } }))
      if (out === '-') {
        await pipeline(res, process.stdout)
        return
      }
      // whole or not at all: written beside, renamed once complete
      const temp = join(dirname(resolve(out)), `.${basename(out)}.${process.pid}.part`)
      try {
        await pipeline(res, createWriteStream(temp, { mode: 0o600 }))
        if ((await stat(temp)).size !== file.size) throw new CliError('the daemon ended the file early; try again')
        await rename(temp, out)
      } catch (err) {
        await rm(temp, { force: true })
        throw err
      }
      process.stderr.write(`${out} (${file.size} bytes)\n`)
    })
}
