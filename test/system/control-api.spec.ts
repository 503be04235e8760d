import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { request } from 'node:http'
import { connect } from 'node:net'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Device, eventually, runCli, tempDir } from '../../testbed/index.ts'
import { API, urlOf, type Input } from '../../daemon/control/contract.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

interface Reply { status: number, body: unknown, contentType: string }

/** A raw HTTP request on the control socket, so the test can send what no well-behaved client would. */
async function raw (socketPath: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed, contentType: String(res.headers['content-type']) })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('daemon and control API', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let device: Device

  before(async () => {
    device = new Device({ dataDir: join(tmp.path, 'one'), name: 'alpha', args: LOOPBACK })
    await device.start()
  })

  after(async () => {
    await device.stop()
    tmp.cleanup()
  })

  it('loads the helper that gives freed memory back to the system (malloc_trim)', async () => {
    const maps = await readFile(`/proc/${device.pid}/maps`, 'utf8')
    assert.ok(maps.includes('malloc-trim.node'), 'dist/malloc-trim.node is mapped into the daemon')
  })

  it('keeps the compiled bundle for the next start, written as soon as it is ready', async () => {
    // where Node keeps it by default (NODE_COMPILE_CACHE alone would turn it on by itself)
    const cache = join(tmp.path, 'node-compile-cache')
    const other = new Device({ dataDir: join(tmp.path, 'cached'), name: 'beta', args: LOOPBACK, env: { TMPDIR: tmp.path } })
    try {
      await other.start()
      const files = async (dir: string): Promise<number> => (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter(e => e.isFile()).length
      await eventually(`compiled code in ${cache} while the daemon runs`, 5_000, async () => await files(cache) > 0 ? true : undefined)
    } finally {
      await other.stop()
    }
  })

  it('loads no HTTP client: undici, TLS and HTTP/2 stay out of a daemon that serves its API (an ES import of node:http loads them, ~5 MB)', async () => {
    // a preload that writes the built-in modules loaded so far, now and then
    const preload = join(tmp.path, 'modules.cjs')
    const list = join(tmp.path, 'modules.txt')
    await writeFile(preload, `setInterval(() => { require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')) }, 100).unref()`)
    const probe = new Device({ dataDir: join(tmp.path, 'probe'), name: 'probe', args: LOOPBACK, env: { NODE_OPTIONS: `--require ${preload}` } })
    await probe.start()
    try {
      await probe.api.call('GET', '/v1/status')
      const loaded = await eventually('the module list', 5_000, async () => {
        const modules = (await readFile(list, 'utf8').catch(() => '')).split('\n')
        return modules.includes('NativeModule _http_server') ? modules : undefined
      })
      for (const unused of ['NativeModule internal/deps/undici/undici', 'NativeModule tls', 'NativeModule http2', 'NativeModule zlib']) {
        assert.ok(!loaded.includes(unused), `${unused} is loaded`)
      }
    } finally {
      await probe.stop()
    }
  })

  it('creates the device key and the control socket 0600 in a 0700 data directory', async () => {
    assert.equal((await stat(join(device.dataDir, 'device.key'))).mode & 0o777, 0o600)
    assert.equal((await stat(device.api.socketPath)).mode & 0o777, 0o600)
    assert.equal((await stat(device.dataDir)).mode & 0o777, 0o700)
  })

  it('serves every route of the contract (and the router knows no other path)', async () => {
    for (const [name, endpoint] of Object.entries(API)) {
      // a long answer or an upgrade is checked by its own tests; here: is the route there at all
      if (endpoint.answer === 'events' || endpoint.answer === 'upgrade') continue
      const input: Input = { params: { device: 'nobody', id: 'none', index: '0' } }
      const res = await raw(device.api.socketPath, endpoint.method, urlOf(endpoint, input), endpoint.method === 'GET' ? undefined : '{}', { 'content-type': 'application/json' })
      const message = (res.body as { error?: { message?: string } }).error?.message ?? ''
      assert.ok(res.status !== 405 && !message.startsWith('no such endpoint'), `${name}: ${res.status} ${message}`)
    }
    const unknown = await raw(device.api.socketPath, 'GET', '/v1/nothing-here')
    assert.equal(unknown.status, 404)
  })

  it('answers status with the contract fields', async () => {
    const status = await device.json<Record<string, unknown>>('status')
    assert.equal(status.id, device.id)
    assert.equal(status.name, 'alpha')
    assert.match(String(status.account), /^12D3KooW/, 'an account of one from the start')
    assert.notEqual(status.account, device.id)
    assert.deepEqual(status.sms, { backend: 'none', ready: false })
    assert.ok(Array.isArray(status.addresses) && status.addresses.length > 0)
    assert.equal(typeof status.uptimeMs, 'number')
  })

  it('refuses a second daemon on the same data directory and keeps serving', async () => {
    const second = await runCli(['--data-dir', device.dataDir, 'daemon', ...LOOPBACK], { timeoutMs: 20_000 })
    assert.equal(second.code, 1)
    assert.match(second.stderr, /already running/)
    assert.equal(second.stdout, '', 'no ready line')
    assert.equal((await device.json<{ id: string }>('status')).id, device.id)
  })

  it('gives malformed requests a 4xx JSON error and changes nothing', async () => {
    const settings = await readFile(join(device.dataDir, 'settings.json'), 'utf8')
    const sock = device.api.socketPath
    const json = { 'content-type': 'application/json' }
    const cases: Array<[string, string, string | undefined, Record<string, string>, number]> = [
      ['GET', '/v1/nothing', undefined, {}, 404],
      ['DELETE', '/v1/status', undefined, {}, 405],
      ['PATCH', '/v1/self', '{"name":', json, 400],
      ['PATCH', '/v1/self', '"just a string"', json, 400],
      ['PATCH', '/v1/self', '[1,2]', json, 400],
      ['PATCH', '/v1/self', '{}', json, 400],
      ['PATCH', '/v1/self', '{"name":""}', json, 400],
      ['PATCH', '/v1/self', '{"name":"tab\\there"}', json, 400],
      ['PATCH', '/v1/self', JSON.stringify({ name: 'x'.repeat(65) }), json, 400],
      ['PATCH', '/v1/self', '{"name":42}', json, 400],
      ['PATCH', '/v1/self', '{"name":"ok","kind":"toaster"}', json, 400],
      ['PATCH', '/v1/self', '{"name":"ok","admin":true}', json, 400],
      ['PATCH', '/v1/self', 'name=ok', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['PATCH', '/v1/self', JSON.stringify({ name: 'y'.repeat(400_000) }), json, 413],
      ['POST', '/v1/dial', '{"multiaddr":"not an address"}', json, 400],
      ['POST', '/v1/dial', '{"multiaddr":7}', json, 400],
      ['GET', '/v1/devices/%E0%A4%A', undefined, {}, 400],
      ['GET', '/v1/devices/nobody-has-this-name', undefined, {}, 404],
      ['POST', '/v1/sms', '{"body":"hi"}', json, 400],
      ['POST', '/v1/sms', '{"to":"+15550102030","body":"hi"}', json, 400],
      ['POST', '/v1/sms', '{"to":[],"body":"hi"}', json, 400],
      ['POST', '/v1/sms', '{"to":["hello"],"body":"hi"}', json, 400],
      ['POST', '/v1/sms', '{"to":["+15550102030"],"body":""}', json, 400],
      ['POST', '/v1/sms', '{"to":["+15550102030"],"body":7}', json, 400],
      ['POST', '/v1/sms', JSON.stringify({ to: ['+15550102030'], body: 'x'.repeat(39_016) }), json, 400],
      ['POST', '/v1/sms', JSON.stringify({ to: ['+15550102030'], body: 'ą'.repeat(255 * 67 + 1) }), json, 400],
      ['POST', '/v1/sms', JSON.stringify({ to: ['+15550102030'], body: '\u0001'.repeat(60_000) }), json, 413],
      ['POST', '/v1/sms', JSON.stringify({ to: Array.from({ length: 21 }, (_, i) => `+1555010${String(i).padStart(4, '0')}`), body: 'hi' }), json, 400],
      ['POST', '/v1/sms', '{"to":["+15550102030"],"body":"hi","via":"nobody-has-this-name"}', json, 404],
      ['POST', '/v1/sms', '{"to":["+15550102030"],"body":"hi","via":"alpha"}', json, 400],
      ['POST', '/v1/sms', '{"to":["+15550102030"],"body":"hi","priority":1}', json, 400],
      ['GET', '/v1/sms?limit=0', undefined, {}, 400],
      ['GET', '/v1/sms/not-a-message-id', undefined, {}, 404],
      ['GET', '/v1/sms/not-a-message-id/wait?status=sent', undefined, {}, 404],
      ['POST', '/v1/sms/read', '{"target":"nothing-like-this"}', json, 404],
      ['POST', '/v1/sms/read', '{}', json, 400]
    ]
    for (const [method, path, body, headers, expected] of cases) {
      const reply = await raw(sock, method, path, body, headers)
      assert.equal(reply.status, expected, `${method} ${path} ${body?.slice(0, 40) ?? ''}`)
      assert.match(reply.contentType, /^application\/json/)
      const error = (reply.body as { error?: { code?: string, message?: string } }).error
      assert.ok(error?.code != null && error.message != null && error.message.length > 0, `an error object for ${method} ${path}`)
    }
    assert.equal(await readFile(join(device.dataDir, 'settings.json'), 'utf8'), settings, 'settings untouched')
    assert.equal((await device.json<{ name: string }>('status')).name, 'alpha')
    assert.deepEqual(await device.json('sms', 'list'), [], 'no message stored')
  })

  it('survives garbage on the control socket', async () => {
    await new Promise<void>((resolve) => {
      const sock = connect(device.api.socketPath, () => { sock.end(Buffer.from([0xff, 0, 13, 10, 13, 10, 0x47, 0x45])) })
      sock.on('close', () => { resolve() })
      sock.on('error', () => { resolve() })
      sock.resume()
    })
    assert.equal((await device.json<{ id: string }>('status')).id, device.id)
  })

  it('renames the device through the CLI and remembers it across a restart', async () => {
    const res = await device.cli('rename', 'alpha prime', '--kind', 'laptop')
    assert.equal(res.code, 0, res.stderr)
    await device.stop()
    assert.equal(await device.start(), device.id)
    const status = await device.json<{ name: string, kind: string }>('status')
    assert.deepEqual([status.name, status.kind], ['alpha', 'laptop'], '--name given at start wins; the kind was remembered')
  })

  it('starts again after kill -9 (a stale lock and socket are taken over)', async () => {
    const id = device.id
    await device.stop('SIGKILL')
    assert.equal(await device.start(), id)
    assert.equal((await device.json<{ id: string }>('status')).id, id)
  })

  it('starts after a power loss though its old lock names a pid another program has now', async () => {
    const id = device.id
    await device.stop('SIGKILL')
    // after the reboot, the pid the lock names belongs to another program
    const other = spawn('sleep', ['30'], { stdio: 'ignore' })
    try {
      for (const lock of [`${other.pid} 00000000-dead-beef-0000-000000000000 12345\n`, `${other.pid} ${(await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()} 1\n`]) {
        await writeFile(join(device.dataDir, 'daemon.lock'), lock)
        assert.equal(await device.start(), id, `starts over the lock "${lock.trim()}"`)
        await device.stop('SIGKILL')
      }
    } finally {
      other.kill('SIGKILL')
    }
    await device.start()
    const second = await runCli(['--data-dir', device.dataDir, 'daemon', ...LOOPBACK], { timeoutMs: 20_000 })
    assert.equal(second.code, 1, 'a second daemon on the same directory is still refused')
    assert.match(second.stderr, /already running/)
  })

  it('refuses a damaged settings file with a clear message', async () => {
    const dir = join(tmp.path, 'damaged')
    const other = new Device({ dataDir: dir, args: LOOPBACK })
    await other.start()
    await other.stop()
    await writeFile(join(dir, 'settings.json'), '{"name": 5')
    const res = await runCli(['--data-dir', dir, 'daemon', ...LOOPBACK], { timeoutMs: 20_000 })
    assert.equal(res.code, 1)
    assert.match(res.stderr, /settings\.json is damaged/)
  })
})

describe('the companion command', function () {
  this.timeout(30_000)
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('says when no daemon is running, and exits 1', async () => {
    const res = await runCli(['--data-dir', join(tmp.path, 'none'), 'status'])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /no daemon is running on .*none; start one with: companion daemon/)
    assert.equal(res.stderr.trim().split('\n').length, 1, 'one line')
  })

  it('exits 2 on bad usage and 0 on --help', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2)
    assert.equal((await runCli(['daemon', '--kind', 'toaster'])).code, 2)
    assert.equal((await runCli(['daemon', '--sms-rate', 'fast'])).code, 2)
    for (const cmd of ['daemon', 'status', 'devices', 'rename', 'dial']) {
      const res = await runCli([cmd, '--help'])
      assert.equal(res.code, 0, cmd)
      assert.match(res.stdout, /Usage: companion/)
    }
  })

  it('uses COMPANION_HOME when no --data-dir is given', async () => {
    const res = await runCli(['status'], { env: { COMPANION_HOME: join(tmp.path, 'home') } })
    assert.match(res.stderr, /home; start one/)
  })
})
