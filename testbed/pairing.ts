import { spawn } from 'node:child_process'
import { requireBuild, type CliResult, type Device } from './device.ts'

/** A `companion pair` running on the joining device: its code once shown, and its result. */
export interface PairAttempt {
  code: Promise<string>
  result: Promise<CliResult>
  /** Interrupt it, as Ctrl-C would. */
  cancel(): void
}

/** Start `companion pair <target>` on `joiner`, as a user would in a terminal. */
export function startPairing (joiner: Device, target: string, ...args: string[]): PairAttempt {
  const child = spawn(process.execPath, [requireBuild(), '--data-dir', joiner.dataDir, 'pair', target, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const code = Promise.withResolvers<string>()
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    const m = /^code: (\d{6})$/m.exec(stdout)
    if (m?.[1] != null) code.resolve(m[1])
  })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const result = new Promise<CliResult>(resolve => child.on('close', (status) => {
    code.reject(new Error(`pairing ended before a code was shown: ${stderr}`))
    resolve({ code: status ?? -1, stdout, stderr })
  }))
  code.promise.catch(() => {})
  return { code: code.promise, result, cancel: () => { child.kill('SIGINT') } }
}

/** Pair `joiner` into the account of `member`, confirming the right code; fails loudly otherwise. */
export async function pair (joiner: Device, member: Device): Promise<void> {
  const attempt = startPairing(joiner, member.id)
  const code = await attempt.code
  const accepted = await member.cli('pair', 'accept', joiner.id, '--code', code)
  const joined = await attempt.result
  if (accepted.code !== 0 || joined.code !== 0) throw new Error(`pairing failed: accept ${accepted.code} ${accepted.stderr}; pair ${joined.code} ${joined.stderr}`)
}
