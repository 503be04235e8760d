import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { listedHistory } from './listed-history.ts'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import type { SimFacts } from '../../node/identity/records.ts'
import type { BackendHandlers, BackendKind, SmsBackend, SmsHistory, StoredSms } from './backend.ts'
import { InvalidSmsError, SmsBackendError } from '../errors.ts'

const log = logger('companion:sms:gammu')

/** How often the spool is looked at. */
export const GAMMU_POLL_MS = 500
/** A message gammu-smsd has not taken from the outbox after this long is taken back (not sent). */
export const GAMMU_PICKUP_TIMEOUT_MS = 60_000
/** Inbox files of one message (its parts) are joined once the newest is this old. */
const PARTS_SETTLE_MS = 2_000
/** Where read inbox files go (next to the spool's own folders, never deleted). */
const READ_DIR = 'companion-read'

const INBOX_NAME = /^IN(\d{8})_(\d{6})_(\d{2})_(.+)_(\d{2})\.txt$/
/** A sent message: the outbox name gammu-smsd keeps (ours, gammu-smsd-inject's, any tool's). */
const SENT_NAME = /^OUT[A-Z]?(\d{8})_(\d{6})_(\d{2})_(\+?[0-9]+)_.*\.txt\w*$/
/** The sent folder is looked at every this many polls, for texts other tools sent through gammu-smsd. */
const SENT_POLL_EVERY = 10

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** `20261123`, `100000` of a spool file name (the phone's local time) → ms. */
function spoolTime (date: string, time: string): number {
  const at = new Date(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)), Number(time.slice(0, 2)), Number(time.slice(2, 4)), Number(time.slice(4, 6))).getTime()
  return Number.isFinite(at) ? at : Date.now()
}

/** Inbox files of one message (its parts), by their shared name. */
function inboxGroups (files: string[]): Map<string, Array<{ file: string, seq: number }>> {
  const groups = new Map<string, Array<{ file: string, seq: number }>>()
  for (const file of files) {
    const m = INBOX_NAME.exec(file)
    if (m == null) continue
    const key = `${m[1] ?? ''}_${m[2] ?? ''}_${m[3] ?? ''}_${m[4] ?? ''}`
    groups.set(key, [...(groups.get(key) ?? []), { file, seq: Number(m[5]) }])
  }
  for (const files of groups.values()) files.sort((a, b) => a.seq - b.seq)
  return groups
}

/** Text of a gammu spool file: UTF-16 with a BOM (either order), else UTF-8; trailing NULs dropped. */
export function decodeSpoolText (bytes: Uint8Array): string {
  let text: string
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const swapped = Buffer.from(bytes.subarray(2))
    swapped.swap16()
    text = swapped.toString('utf16le')
  } else if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    text = Buffer.from(bytes.subarray(2)).toString('utf16le')
  } else {
    text = Buffer.from(bytes).toString('utf8')
  }
  return text.replace(/\u0000+$/, '')
}

/**
 * `gammu-smsd:SPOOLDIR`: the files service of a gammu-smsd the user already runs, with its
 * `inbox/`, `outbox/`, `sent/` and `error/` folders in SPOOLDIR (`outboxformat = unicode`).
 * A message is an outbox file in gammu's naming scheme, followed to `sent/` or `error/`;
 * incoming texts are the inbox files, moved to `companion-read/` once stored. The history is
 * `companion-read/` and `sent/` (where texts other tools sent through gammu-smsd appear too).
 */
export class GammuSmsdBackend implements SmsBackend {
  readonly uri: string
  private readonly dir: string
  private readonly handlers: BackendHandlers
  private isReady = false
  private stopped = false
  private timer?: ReturnType<typeof setTimeout>
  private serial = 0
  private polls = 0
  private readonly sentSeen = new Set<string>()
  readonly history: SmsHistory = listedHistory(async () => await this.storedTexts())

  constructor (uri: string, handlers: BackendHandlers) {
    this.uri = uri
    this.handlers = handlers
    this.dir = uri.slice('gammu-smsd:'.length)
    if (!this.dir.startsWith('/')) throw new InvalidSmsError(`gammu-smsd:SPOOLDIR needs an absolute path, not "${this.dir}"`)
  }

  get ready (): boolean {
    return this.isReady
  }

  get facts (): SimFacts {
    return {}
  }

  async start (): Promise<void> {
    for (const sub of ['inbox', 'outbox', 'sent', 'error']) {
      const info = await stat(join(this.dir, sub)).catch(() => undefined)
      if (info?.isDirectory() !== true) throw new InvalidSmsError(`${join(this.dir, sub)} is not a folder: point gammu-smsd's inboxpath, outboxpath, sentsmspath and errorsmspath into ${this.dir}`)
    }
    await mkdir(join(this.dir, READ_DIR), { recursive: true })
    this.isReady = true
    this.handlers.changed()
    void this.poll()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
  }

  async send (to: string, body: string): Promise<string> {
    const now = new Date()
    const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}_${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`
    this.serial = (this.serial + 1) % 100
    // C: normal priority; .txtd: text, with a delivery report requested
    const name = `OUTC${stamp}_${pad(this.serial)}_${to}_cl${process.pid}x${Date.now().toString(36)}.txtd`
    const outbox = join(this.dir, 'outbox')
    const draft = join(outbox, `.${name}.tmp`)
    await writeFile(draft, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, 'utf16le')]))
    // appears whole: gammu-smsd only takes files that start with OUT
    await rename(draft, join(outbox, name))
    return await this.follow(name)
  }

  /** Wait for gammu-smsd to move the file to sent/ or error/; take it back if it never starts. */
  private async follow (name: string): Promise<string> {
    const started = Date.now()
    while (true) {
      if (await exists(join(this.dir, 'sent', name))) return name
      if (await exists(join(this.dir, 'error', name))) throw new SmsBackendError('gammu-smsd could not send it (see its log)')
      if (Date.now() - started > GAMMU_PICKUP_TIMEOUT_MS) {
        try {
          // still in the outbox: gammu-smsd never took it, so it certainly did not go out
          await rename(join(this.dir, 'outbox', name), join(this.dir, 'outbox', `.${name}.withdrawn`))
          throw new SmsBackendError('gammu-smsd is not taking messages from its outbox (is it running?)', { notSent: true })
        } catch (err) {
          if (err instanceof SmsBackendError) throw err
          // it is being sent right now: keep following
        }
      }
      if (this.stopped) throw new SmsBackendError('outcome unknown: this device stopped while gammu-smsd had the message')
      await new Promise(resolve => setTimeout(resolve, GAMMU_POLL_MS))
    }
  }

  private async poll (): Promise<void> {
    if (this.stopped) return
    try {
      await this.readInbox()
      if (this.polls++ % SENT_POLL_EVERY === 0) await this.readSent()
    } catch (err) {
      log.error('reading the spool %s failed - %s', this.dir, (err as Error).message)
    }
    this.timer = setTimeout(() => { void this.poll() }, GAMMU_POLL_MS)
  }

  private async readInbox (): Promise<void> {
    const inbox = join(this.dir, 'inbox')
    for (const [key, files] of inboxGroups(await readdir(inbox))) {
      const newest = Math.max(...await Promise.all(files.map(async f => (await stat(join(inbox, f.file))).mtimeMs)))
      // parts of one message come one after the other: wait until they stop coming
      if (Date.now() - newest < PARTS_SETTLE_MS) continue
      await this.handlers.incoming(await this.received(inbox, key, files))
      for (const f of files) await rename(join(inbox, f.file), join(this.dir, READ_DIR, f.file))
    }
  }

  /** One received message of a folder, its parts joined. */
  private async received (folder: string, key: string, files: Array<{ file: string }>): Promise<{ from: string, body: string, at: number }> {
    const body = (await Promise.all(files.map(async f => decodeSpoolText(await readFile(join(folder, f.file)))))).join('')
    const [date = '', time = '', , from = ''] = key.split('_')
    return { from, body, at: spoolTime(date, time) }
  }

  /** Sent files not seen yet: texts other tools (gammu-smsd-inject) sent through this gammu-smsd, and ours (matched by reference). */
  private async readSent (): Promise<void> {
    const fresh = (await readdir(join(this.dir, 'sent'))).filter(f => !this.sentSeen.has(f) && SENT_NAME.test(f))
    if (fresh.length === 0) return
    await this.handlers.stored(await this.sentTexts(fresh))
    for (const f of fresh) this.sentSeen.add(f)
  }

  private async sentTexts (files: string[]): Promise<StoredSms[]> {
    return await Promise.all(files.map(async (file): Promise<StoredSms> => {
      const [, date = '', time = '', , number = ''] = SENT_NAME.exec(file) ?? []
      const body = decodeSpoolText(await readFile(join(this.dir, 'sent', file)))
      return { key: `sent/${file}`, direction: 'out', party: number, body, at: spoolTime(date, time), ref: file }
    }))
  }

  /** Everything the spool holds: received texts already read (and any still waiting), and sent ones; newest first. */
  private async storedTexts (): Promise<StoredSms[]> {
    const texts: StoredSms[] = []
    for (const folder of [READ_DIR, 'inbox']) {
      const path = join(this.dir, folder)
      for (const [key, files] of inboxGroups(await readdir(path))) {
        const { from, body, at } = await this.received(path, key, files)
        texts.push({ key: `in/${key}`, direction: 'in', party: from, body, at, ...(folder === READ_DIR ? { read: true } : {}) })
      }
    }
    texts.push(...await this.sentTexts((await readdir(join(this.dir, 'sent'))).filter(f => SENT_NAME.test(f))))
    return texts.sort((a, b) => b.at - a.at || (a.key < b.key ? 1 : -1))
  }
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

export const gammuSmsdBackend: BackendKind = {
  schemes: ['gammu-smsd'],
  usage: 'gammu-smsd:SPOOLDIR',
  summary: 'the file spool of a running gammu-smsd',
  create: (uri, handlers) => new GammuSmsdBackend(uri, handlers)
}
