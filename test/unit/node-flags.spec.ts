import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from '../../cli/node-flags.ts'

const MODULE = fileURLToPath(new URL('../../cli/node-flags.ts', import.meta.url))

/** What a process that called runWithDaemonNodeFlags() reports of itself (with -e, argv has no script path). */
interface Report { pid: number, execArgv: string[], semiSpaceMb: number, mark: boolean, args: string[], arenas?: string }

/** Run a process that applies the daemon's flags, then reports; `childPid` is the pid we started. */
async function run (env: NodeJS.ProcessEnv = {}): Promise<{ childPid: number, report: Report }> {
  const script = `
    import { runWithDaemonNodeFlags } from ${JSON.stringify(MODULE)}
    import v8 from 'node:v8'
    runWithDaemonNodeFlags()
    const young = v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space')
    process.stdout.write(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, semiSpaceMb: young.space_size / 2 ** 20, mark: Object.keys(process.env).some(k => k.startsWith('COMPANION_NODE_FLAGS')), args: process.argv.slice(1), arenas: process.env.MALLOC_ARENA_MAX }))`
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

  it('leaves a value the user chose alone', async () => {
    const { report } = await run({ NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '4' })
    assert.ok(!report.execArgv.some(arg => arg.startsWith('--max-semi-space-size')), report.execArgv.join(' '))
    assert.equal(report.arenas, '4')
  })
})
