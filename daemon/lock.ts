import { constants as fsConstants } from 'node:fs'
import { open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { DaemonAlreadyRunningError } from './errors.ts'
import { LOCK_FILE } from './paths.ts'

/**
 * Who holds a lock: the pid, and what makes that pid this process and no other one: the boot
 * (a pid named before a power loss means nothing after it) and the process's start time in
 * clock ticks since boot (a pid reused by another program started at another time).
 */
interface Holder {
  pid: number
  boot?: string
  start?: string
}

async function bootId (): Promise<string | undefined> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined))?.trim()
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
async function startTime (pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat == null) return undefined
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseHolder (text: string): Holder | undefined {
  const [pid, boot, start] = text.trim().split(/\s+/)
  const n = Number.parseInt(pid ?? '', 10)
  return Number.isInteger(n) && n > 0 ? { pid: n, boot, start } : undefined
}

/** Does the process the lock names still run, and is it the one that took it? */
async function stillHolds (holder: Holder): Promise<boolean> {
  if (holder.pid === process.pid || !isAlive(holder.pid)) return false
  // a lock from a version that wrote the pid alone: its pid alive is all we can know
  if (holder.boot == null || holder.start == null) return true
  const [boot, start] = [await bootId(), await startTime(holder.pid)]
  if (boot != null && boot !== holder.boot) return false
  return start == null || start === holder.start
}

/**
 * One daemon per data directory: a lock file created exclusively, naming its owner (pid, boot
 * id, start time). A lock left by a daemon that died (kill -9, power loss, its pid since reused
 * by another program) is taken over.
 */
export class DataDirLock {
  readonly path: string
  private held = false

  constructor (dataDir: string) {
    this.path = join(dataDir, LOCK_FILE)
  }

  async acquire (): Promise<void> {
    const me = `${process.pid} ${await bootId() ?? '-'} ${await startTime(process.pid) ?? '-'}\n`
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
        await fh.writeFile(me)
        await fh.close()
        this.held = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const holder = parseHolder(await readFile(this.path, 'utf8').catch(() => ''))
      if (holder != null && await stillHolds(holder)) {
        throw new DaemonAlreadyRunningError(`another daemon (pid ${holder.pid}) is already running on ${this.path.slice(0, -LOCK_FILE.length - 1)}; stop it first or use another --data-dir`)
      }
      // stale: its owner is gone
      await unlink(this.path).catch(() => {})
    }
    throw new DaemonAlreadyRunningError(`could not take the lock ${this.path}: another daemon keeps starting on this data directory`)
  }

  async release (): Promise<void> {
    if (!this.held) return
    this.held = false
    await unlink(this.path).catch(() => {})
  }
}
