import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DAEMON_BUFFER_POOL_SIZE, DAEMON_ENV, DAEMON_NODE_FLAGS } from '../../cli/node-flags.ts'

const MODULE = fileURLToPath(new URL('../../cli/node-flags.ts', import.meta.url))

/** What a process that called runWithDaemonNodeFlags() reports of itself (with -e, argv has no script path). */
interface Report { pid: number, execArgv: string[], semiSpaceMb: number, mark: boolean, args: string[], arenas?: string, pool: number }

/** Run a process that applies the daemon's flags, then reports; `childPid` is the pid we started. */
async function run (env: NodeJS.ProcessEnv = {}): Promise<{ childPid: number, report: Report }> {
  const script = `
    import { runWithDaemonNodeFlags } from ${JSON.stringify(MODULE)}
    import v8 from 'node:v8'
    runWithDaemonNodeFlags()
    const young = v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space')
    // use up the pool Node started with; the one after it is the daemon's
    for (let i = 0; i < 100; i++) Buffer.allocUnsafe(1024)
    const pool = Buffer.allocUnsafe(16).buffer.byteLength
    process.stdout.write(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, semiSpaceMb: young.space_size / 2 ** 20, mark: Object.keys(process.env).some(k => k.startsWith('COMPANION_NODE_FLAGS')), args: process.argv.slice(1), arenas: process.env.MALLOC_ARENA_MAX, pool }))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, 'daemon', '--name', 'x y'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise(resolve => child.on('exit', resolve))
  assert.equal(code, 0)
  return { childPid: child.pid ?? -1, report: JSON.parse(out) as Report }
}

describe('the daemon\'s Node settings', () => {
  it('re-executes the same process (same pid, same arguments) with a small young generation', async () => {
    const { childPid, report } = await run()
    assert.equal(report.pid, childPid, 'the same process, replaced in place')
    for (const flag of DAEMON_NODE_FLAGS) assert.ok(report.execArgv.includes(flag), `${flag} in ${report.execArgv.join(' ')}`)
    assert.ok(report.semiSpaceMb <= 3, `young generation of ${report.semiSpaceMb} MiB`)
    assert.deepEqual(report.args, ['daemon', '--name', 'x y'])
    assert.equal(report.mark, false, 'processes it starts do not inherit the re-exec mark')
    assert.equal(report.arenas, DAEMON_ENV.MALLOC_ARENA_MAX, 'one malloc arena')
  })

  it('serves small buffers from pools small enough that one kept slice keeps little', async () => {
    const { report } = await run()
    assert.ok(report.pool <= DAEMON_BUFFER_POOL_SIZE, `a 16-byte buffer shares a pool of ${report.pool} bytes`)
  })

  it('stays small through a burst of garbage (a catch-up of the whole log), where Node\'s defaults keep the peak resident', async function () {
    this.timeout(60_000)
    // pages of 500 entries, 50 of them alive at once as they wait for the network, 3,000 pages
    const burst = `
      let keep = []
      for (let r = 0; r < 3000; r++) {
        const page = []
        for (let i = 0; i < 500; i++) page.push({ p: JSON.stringify({ a: 'x'.repeat(300) + i + r }), seq: i })
        keep.push(page)
        if (keep.length > 50) keep.shift()
        if (r % 100 === 0) await new Promise(resolve => setImmediate(resolve))
      }
      keep = []
      await new Promise(resolve => setTimeout(resolve, 500))
      process.stdout.write(String(process.memoryUsage().rss / 2 ** 20))`
    const residentAfter = async (flags: string[]): Promise<number> => {
      const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', burst], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      assert.equal(await new Promise(resolve => child.on('exit', resolve)), 0)
      return Number(out)
    }
    const daemon = await residentAfter(DAEMON_NODE_FLAGS)
    const youngOnly = await residentAfter(['--max-semi-space-size=1'])
    // a quarter less at least (the gap is narrower on a busy machine: 70 MB against 113 there)
    assert.ok(daemon < youngOnly * 0.75, `resident after the burst: ${daemon.toFixed(0)} MB with the daemon's flags, ${youngOnly.toFixed(0)} MB with a small young generation alone`)
  })

  it('leaves a value the user chose alone', async () => {
    const { report } = await run({ NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '4' })
    assert.ok(!report.execArgv.some(arg => arg.startsWith('--max-semi-space-size')), report.execArgv.join(' '))
    assert.equal(report.arenas, '4')
  })
})
