import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ControlClient } from '../cli/client.ts'

export const REPO = fileURLToPath(new URL('../', import.meta.url))
/** The built command, as users run it (`npm test` builds it first). */
export const CLI = fileURLToPath(new URL('../dist/companion.mjs', import.meta.url))

/** Tests and benchmarks that run the real command need it built; say so where it is needed, not on import. */
export function requireBuild (): string {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: this test runs the real companion command; run npm run build first (npm test does)`)
  return CLI
}

/** How long a daemon may take to print its ready line. */
const READY_TIMEOUT_MS = 20_000

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface DeviceInit {
  dataDir: string
  /** Network namespace to run the daemon in; none = this namespace (loopback-only tests). */
  ns?: string
  name?: string
  /** Extra `companion daemon` arguments. */
  args?: string[]
  /** Extra environment of the daemon (e.g. PATH with stand-in tools). */
  env?: NodeJS.ProcessEnv
  /** Run the daemon with its clock moved (libfaketime's offset, e.g. '+30d'). */
  clock?: string
  /** How long it may take to print its ready line (twenty starting at once on two cores take longer). @default READY_TIMEOUT_MS */
  readyTimeoutMs?: number
}

const running = new Set<ChildProcess>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

/** Run the real `companion` CLI (always from this namespace: the control socket is a file). */
export async function runCli (args: string[], options: { input?: string, timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [requireBuild(), ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

/** One device: a real `companion daemon` process, optionally inside a namespace of a test LAN. */
export class Device {
  readonly init: DeviceInit
  readonly api: ControlClient
  id = ''
  /** Everything the daemon wrote to stderr, for failure messages. */
  log = ''
  private child?: ChildProcess
  private exited?: Promise<number | null>

  constructor (init: DeviceInit) {
    this.init = init
    this.api = new ControlClient(init.dataDir)
  }

  get dataDir (): string {
    return this.init.dataDir
  }

  /** The daemon's pid (`ip netns exec` execs, so it is the node process itself). */
  get pid (): number | undefined {
    return this.child?.pid
  }

  get running (): boolean {
    return this.child != null && this.child.exitCode == null && this.child.signalCode == null
  }

  /** Start the daemon and wait for `ready <id> <socket>`. */
  async start (): Promise<string> {
    const args = [requireBuild(), 'daemon', '--data-dir', this.init.dataDir, ...(this.init.name == null ? [] : ['--name', this.init.name]), ...(this.init.args ?? [])]
    // CPU_PROF_DIR and CPU_PROF_NAMES: CPU profiles of the named devices (README, Development)
    const prof = process.env.CPU_PROF_DIR != null && (process.env.CPU_PROF_NAMES ?? '').split(',').includes(this.init.name ?? '') ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR}`] : []
    const node = this.init.clock == null ? [process.execPath, ...prof] : ['faketime', '-f', this.init.clock, process.execPath, ...prof]
    const [cmd, argv] = this.init.ns == null ? [node[0] as string, [...node.slice(1), ...args]] : ['ip', ['netns', 'exec', this.init.ns, ...node, ...args]]
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...this.init.env } })
    this.child = child
    running.add(child)
    this.exited = new Promise(resolve => child.on('exit', (code) => {
      running.delete(child)
      resolve(code)
    }))
    child.stderr?.on('data', (d: Buffer) => { this.log += d.toString() })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      const readyMs = this.init.readyTimeoutMs ?? READY_TIMEOUT_MS
      const timer = setTimeout(() => { reject(new Error(`daemon ${this.init.name ?? ''} not ready within ${readyMs} ms:\n${this.log}`)) }, readyMs)
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const nl = out.indexOf('\n')
        if (nl >= 0) {
          clearTimeout(timer)
          resolve(out.slice(0, nl))
        }
      })
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`daemon exited with ${code} before it was ready:\n${this.log}`))
      })
    })
    const m = /^ready (\S+) (\S+)$/.exec(line)
    if (m?.[1] == null) throw new Error(`unexpected first line from the daemon: ${line}`)
    this.id = m[1]
    return this.id
  }

  /** Stop as a user would (SIGTERM by default) and wait for the exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null
    this.child?.kill(signal)
    return await this.exited!
  }

  /** Run the CLI against this device's daemon. */
  async cli (...args: string[]): Promise<CliResult> {
    return await runCli(['--data-dir', this.init.dataDir, ...args])
  }

  /** Run the CLI with --json and parse its output; fails with the CLI's message. */
  async json<T> (...args: string[]): Promise<T> {
    const res = await this.cli(...args, '--json')
    if (res.code !== 0) throw new Error(`companion ${args.join(' ')} exited ${res.code}: ${res.stderr}`)
    return JSON.parse(res.stdout) as T
  }
}

/** Poll `check` until it holds, or fail after `timeoutMs` saying `what` did not happen (and the last error, if any). */
export async function until (what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, intervalMs = 50): Promise<void> {
  await eventually(what, timeoutMs, async () => await check() ? true : undefined, intervalMs)
}

/** Poll `check` until it returns a value other than undefined (that value), or fail after `timeoutMs`. */
export async function eventually<T> (what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (true) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last == null ? '' : ` (last error: ${(last as Error).message})`}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}

/** What of each daemon is printed with a failure (CI keeps only what was printed; the file has all). */
const PRINTED_LOG_LINES = 30
const PRINTED_STATE_CHARS = 1_500

/**
 * After a failed test, keep what each daemon wrote to stderr and what it saw (devices, links,
 * its newest messages) in test/out/logs/<test>.log, and print the start of what it saw and
 * the newest lines of its log, so a failure that only CI meets can be read afterwards.
 */
export async function keepLogsOnFailure (test: Mocha.Test | undefined, devices: Array<Device | undefined>): Promise<void> {
  if (test?.state !== 'failed') return
  const kept: string[] = []
  const printed: string[] = []
  for (const device of devices) {
    if (device == null) continue
    const seen = device.running
      ? await Promise.all(['/v1/devices', '/v1/links', '/v1/sms?limit=20'].map(async path => JSON.stringify(await device.api.call('GET', path).catch((err: Error) => err.message))))
      : ['(not running)']
    const head = `== ${device.init.name ?? device.dataDir} ${device.id}`
    kept.push(`${head}\n${seen.join('\n')}\n-- stderr\n${device.log}`)
    printed.push(`${head}\n${seen.map(s => s.slice(0, PRINTED_STATE_CHARS)).join('\n')}\n-- stderr (newest lines)\n${device.log.split('\n').slice(-PRINTED_LOG_LINES).join('\n')}`)
  }
  const dir = join(REPO, 'test', 'out', 'logs')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${test.fullTitle().replace(/[^\w-]+/g, '-').slice(0, 120)}.log`)
  await writeFile(file, kept.join('\n\n'))
  process.stderr.write(`daemon logs of the failed test: ${file}\n${printed.join('\n')}\n`)
}
