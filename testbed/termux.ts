import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The Termux:API stand-ins (testbed/tools/termux), to put first on a phone daemon's PATH. */
export const TERMUX_STUBS = fileURLToPath(new URL('./tools/termux', import.meta.url))

/** An entry of the phone's SMS store as the stand-ins keep it. */
export interface TermuxEntry { _id: number, type: 'inbox' | 'sent' | 'draft' | 'outbox', number: string, body: string, received: string, read?: boolean, threadid?: number }

/** `2026-11-23 10:00:00` in this machine's local time, as Android writes a store entry's time. */
export function termuxTime (ms: number): string {
  const d = new Date(ms)
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}

/**
 * The phone's own store and contacts behind the stand-ins: `inbox.json` (every type, as
 * Android's SMS table), `contacts.json`, `sent.jsonl` (what termux-sms-send was asked).
 */
export class TermuxPhoneStore {
  readonly dir: string

  constructor (dir: string) {
    this.dir = dir
    mkdirSync(dir, { recursive: true })
  }

  /** The environment a phone daemon needs to use the stand-ins on this store. */
  env (): NodeJS.ProcessEnv {
    return { PATH: `${TERMUX_STUBS}:${process.env.PATH ?? ''}`, TERMUX_STUB_DIR: this.dir }
  }

  entries (): TermuxEntry[] {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'inbox.json'), 'utf8')) as TermuxEntry[]
    } catch {
      return []
    }
  }

  write (entries: TermuxEntry[]): void {
    writeFileSync(join(this.dir, 'inbox.json.tmp'), JSON.stringify(entries))
    // replaced whole, as the stand-in termux-sms-send does: a reader never sees half a file
    renameSync(join(this.dir, 'inbox.json.tmp'), join(this.dir, 'inbox.json'))
  }

  /** A text typed on the phone itself or received by it now: the next `_id`. */
  add (entry: Omit<TermuxEntry, '_id' | 'received'> & { received?: string }): TermuxEntry {
    const entries = this.entries()
    const added: TermuxEntry = { _id: Math.max(0, ...entries.map(e => e._id)) + 1, received: termuxTime(Date.now()), ...entry }
    this.write([...entries, added])
    return added
  }

  contacts (list: Array<{ name: string, number: string }>): void {
    writeFileSync(join(this.dir, 'contacts.json'), JSON.stringify(list))
  }

  /** What termux-sms-send was asked to send. */
  sent (): Array<{ number: string, body: string }> {
    try {
      return readFileSync(join(this.dir, 'sent.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as { number: string, body: string })
    } catch {
      return []
    }
  }
}
