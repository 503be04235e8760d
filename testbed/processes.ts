import { spawn, type ChildProcess } from 'node:child_process'

const started = new Set<ChildProcess>()
process.once('exit', () => { for (const child of started) child.kill('SIGKILL') })

/** A helper process (in a namespace or not), its output collected; killed at exit whatever happens. */
export interface Helper {
  child: ChildProcess
  stdout(): string
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** Resolves with the first stderr line matching `pattern`. */
  errLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): void
  /** Write to its stdin (started with `{ stdin: true }`). */
  write(text: string): void
}

export function startHelper (argv: string[], ns?: string, options: { stdin?: boolean, env?: NodeJS.ProcessEnv } = {}): Helper {
  const [cmd, args] = ns == null ? [argv[0] as string, argv.slice(1)] : ['ip', ['netns', 'exec', ns, ...argv]]
  const child = spawn(cmd, args, { stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } })
  started.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('close', (code) => { started.delete(child); resolve(code) }))
  return {
    child,
    stdout: () => out,
    exited,
    kill: (signal = 'SIGTERM') => { child.kill(signal) },
    write: (text) => { child.stdin?.write(text) },
    line: async (pattern, timeoutMs = 20_000) => await firstLine(() => out, pattern, timeoutMs),
    errLine: async (pattern, timeoutMs = 20_000) => await firstLine(() => err, pattern, timeoutMs)
  }

  async function firstLine (text: () => string, pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const found = text().split('\n').find(l => pattern.test(l))
      if (found != null) return found
      if (child.exitCode != null) break
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    throw new Error(`no line matching ${String(pattern)} from ${argv.join(' ')}: ${out} ${err}`)
  }
}
