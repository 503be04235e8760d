import { constants as fsConstants } from 'node:fs'
import { open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { DaemonAlreadyRunningError } from './errors.ts'
import { LOCK_FILE } from './paths.ts'

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * One daemon per data directory: a lock file created exclusively, holding the owner's pid.
 * A lock left by a daemon that died (kill -9, power loss) is taken over.
 */
export class DataDirLock {
  readonly path: string
  private held = false

  constructor (dataDir: string) {
    this.path = join(dataDir, LOCK_FILE)
  }

  async acquire (): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
        await fh.writeFile(`${process.pid}\n`)
        await fh.close()
        this.held = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const pid = Number.parseInt(await readFile(this.path, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DaemonAlreadyRunningError(`another daemon (pid ${pid}) is already running on ${this.path.slice(0, -LOCK_FILE.length - 1)}; stop it first or use another --data-dir`)
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
