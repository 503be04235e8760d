import assert from 'node:assert/strict'
import { request } from 'node:http'
import { join } from 'node:path'
import { Device, tempDir } from '../../testbed/index.ts'
import { API, urlOf } from '../../daemon/control/contract.ts'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One plain HTTP request, with exactly the headers given (no browser adds any). */
async function http (port: number, path: string, options: { method?: string, headers?: Record<string, string>, body?: string, host?: string } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, setHost: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

describe('the web page\'s server', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  const laptop = new Device({ dataDir: join(tmp.path, 'laptop'), name: 'laptop', args: ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'] })
  let port = 0
  let origin = ''
  let cookie = ''
  /** Headers of a request the page itself would make. */
  const own = (): Record<string, string> => ({ host: `127.0.0.1:${port}`, origin, cookie, 'sec-fetch-site': 'same-origin' })

  const link = async (): Promise<URL> => new URL((await laptop.json<{ url: string }>('ui', '--no-open')).url)

  before(async () => {
    await laptop.start()
    const url = await link()
    port = Number(url.port)
    origin = url.origin
    const signIn = await http(port, url.pathname + url.search, { headers: { host: url.host } })
    assert.equal(signIn.status, 303)
    const set = String(signIn.headers['set-cookie'])
    assert.match(set, /HttpOnly/)
    assert.match(set, /SameSite=Strict/)
    cookie = set.split(';')[0] ?? ''
  })

  after(async () => {
    await laptop.stop()
    tmp.cleanup()
  })

  it('prints a one-time link on 127.0.0.1 with `companion ui`', async () => {
    const res = await laptop.cli('ui', '--no-open')
    assert.equal(res.code, 0)
    assert.match(res.stdout, /^http:\/\/127\.0\.0\.1:\d+\/auth\?token=[A-Za-z0-9_-]{43}\n$/)
  })

  it('listens on 127.0.0.1 only, never on every address', async () => {
    // 127.0.0.2 is loopback too: a server bound to 0.0.0.0 would answer there
    await assert.rejects(http(port, '/', { host: '127.0.0.2', headers: { host: `127.0.0.2:${port}` } }), /ECONNREFUSED/)
  })

  it('spends a token on first use', async () => {
    const url = await link()
    assert.equal((await http(port, url.pathname + url.search, { headers: { host: url.host } })).status, 303)
    const again = await http(port, url.pathname + url.search, { headers: { host: url.host } })
    assert.equal(again.status, 401)
    assert.match(again.body, /already used or has expired/)
    assert.equal((await http(port, '/auth?token=forged', { headers: { host: url.host } })).status, 401)
  })

  it('refuses the page and the API without a session', async () => {
    const page = await http(port, '/', { headers: { host: `127.0.0.1:${port}` } })
    assert.equal(page.status, 401)
    assert.match(page.body, /companion ui/)
    const api = await http(port, '/api/v1/sms', { headers: { host: `127.0.0.1:${port}` } })
    assert.equal(api.status, 401)
    assert.equal(JSON.parse(api.body).error.code, 'no_session')
    const forged = await http(port, '/api/v1/status', { headers: { host: `127.0.0.1:${port}`, cookie: cookie.replace(/=.*/, '=forged') } })
    assert.equal(forged.status, 401)
  })

  it('answers its own page, with a strict content security policy', async () => {
    const page = await http(port, '/', { headers: own() })
    assert.equal(page.status, 200)
    assert.match(page.body, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/)
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
    assert.equal(page.headers['x-frame-options'], 'DENY')
    const status = await http(port, '/api/v1/status', { headers: own() })
    assert.equal(status.status, 200)
    assert.equal(JSON.parse(status.body).name, 'laptop')
  })

  it('refuses a foreign Host (DNS rebinding) and foreign or cross-site origins, changing nothing', async () => {
    const refusals: Array<[string, Record<string, string>, string?]> = [
      ['foreign host', { ...own(), host: `evil.example:${port}` }],
      ['foreign origin', { ...own(), origin: 'http://evil.example' }],
      ['another port on 127.0.0.1 (same site, other origin)', { ...own(), origin: 'http://127.0.0.1:8080' }],
      ['cross-site fetch', { ...own(), 'sec-fetch-site': 'cross-site' }],
      ['same-site fetch', { ...own(), 'sec-fetch-site': 'same-site' }]
    ]
    for (const [what, headers] of refusals) {
      const res = await http(port, '/api/v1/status', { headers })
      assert.equal(res.status, 403, what)
    }
    // a state change from a form elsewhere: no Origin at all on a POST is refused too
    const { origin: _o, ...noOrigin } = own()
    const body = JSON.stringify({ name: 'pwned' })
    for (const headers of [noOrigin, { ...own(), origin: 'http://evil.example' }]) {
      const res = await http(port, '/api/v1/self', { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body })
      assert.equal(res.status, 403)
    }
    assert.equal((await laptop.json<{ name: string }>('status')).name, 'laptop', 'nothing changed')
  })

  it('keeps local-only routes (forwards, dial, tokens) and raw channels away from the page', async () => {
    for (const [method, path] of [['POST', '/api/v1/forwards'], ['POST', '/api/v1/dial'], ['POST', '/api/v1/ui'], ['GET', '/api/v1/connect?device=x&channel=y']] as const) {
      const res = await http(port, path, { method, headers: { ...own(), 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined })
      assert.equal(res.status, 404, path)
    }
    const upgrade = http(port, '/api/v1/connect?device=x&channel=y', { headers: { ...own(), connection: 'upgrade', upgrade: 'companion-channel' } })
    await assert.rejects(upgrade, /socket hang up|ECONNRESET/)
  })

  it('reaches exactly the routes the contract marks for the page: a route is the CLI\'s unless it says otherwise', async () => {
    for (const [name, endpoint] of Object.entries(API)) {
      if (endpoint.answer === 'events' || endpoint.answer === 'upgrade') continue
      const path = '/api' + urlOf(endpoint, { params: { device: 'nobody', id: 'none', index: '0' } })
      const res = await http(port, path, { method: endpoint.method, headers: { ...own(), 'content-type': 'application/json' }, body: endpoint.method === 'GET' ? undefined : '{}' })
      const missing = res.status === 404 && res.body.includes('no such endpoint')
      assert.equal(missing, !endpoint.page, `${name} (${endpoint.method} ${path}): ${res.status} ${res.body}`)
    }
  })

  it('answers bad requests with clear errors', async () => {
    const res = await http(port, '/api/v1/sms', { method: 'POST', headers: { ...own(), 'content-type': 'application/json' }, body: '{"to":' })
    assert.equal(res.status, 400)
    assert.equal(JSON.parse(res.body).error.code, 'invalid_json')
    assert.equal((await http(port, '/no/such/file.js', { headers: own() })).status, 404)
    assert.equal((await http(port, '/../settings.json', { headers: own() })).status, 404)
  })

  it('keeps the session across a daemon restart, on the same port; signing out ends it', async () => {
    await laptop.stop()
    await laptop.start()
    const again = new URL((await laptop.json<{ url: string }>('ui', '--no-open')).url)
    assert.equal(Number(again.port), port, 'the port is remembered')
    assert.equal((await http(port, '/api/v1/status', { headers: own() })).status, 200)
    assert.equal((await http(port, '/api/logout', { method: 'POST', headers: own() })).status, 204)
    assert.equal((await http(port, '/api/v1/status', { headers: own() })).status, 401)
  })

  it('can run without its page (--no-ui)', async () => {
    await laptop.stop()
    const quiet = new Device({ dataDir: laptop.dataDir, args: ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-ui'] })
    await quiet.start()
    try {
      const res = await quiet.cli('ui', '--no-open')
      assert.equal(res.code, 1)
      assert.match(res.stderr, /--no-ui/)
      await assert.rejects(http(port, '/', { headers: own() }), /ECONNREFUSED/)
    } finally {
      await quiet.stop()
    }
  })
})
