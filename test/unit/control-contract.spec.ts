import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlClient } from '../../cli/client.ts'
import { API, ControlError, urlOf } from '../../daemon/control/contract.ts'
import { ERROR_TABLE } from '../../daemon/control/error-table.ts'
import { jsonRoute, type Route } from '../../daemon/control/router.ts'
import { ControlServer } from '../../daemon/control/server.ts'
import { UnknownDeviceError } from '../../daemon/errors.ts'
import { NotAMemberError } from '../../node/identity/errors.ts'
import { StorageError } from '../../sms/errors.ts'
import { backendHelp, BACKENDS, createBackend } from '../../sms/backends/registry.ts'
import type { BackendHandlers } from '../../sms/backends/backend.ts'

/** A control server in this process, with routes that throw what a service would. */
async function serve (routes: Route[]): Promise<{ client: ControlClient, close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cl-'))
  const server = new ControlServer(routes)
  // the client finds the socket in its data directory, as the CLI does
  await server.listen(new ControlClient(dir).socketPath)
  return {
    client: new ControlClient(dir),
    close: async () => {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

const failure = async (promise: Promise<unknown>): Promise<string> => await promise.then(() => 'no error', (err: Error) => err.message)

describe('the control API contract', () => {
  it('fills path parameters (encoded) and leaves out query values that are not given', () => {
    assert.equal(urlOf(API.message, { params: { id: 'a/b c' } }), '/v1/sms/a%2Fb%20c')
    assert.equal(urlOf(API.links, { query: { device: undefined } }), '/v1/links')
    assert.equal(urlOf(API.messages, { query: { with: '+1555', limit: 5 } }), '/v1/sms?with=%2B1555&limit=5')
    assert.throws(() => urlOf(API.message, {}), /needs id/)
  })

  it('marks only what the page uses for the page: never dialling, forwards, raw channels or new sign-in links', () => {
    const forPage = Object.entries(API).filter(([, e]) => e.page).map(([name]) => name)
    for (const name of ['dial', 'forward', 'connect', 'uiLink', 'updateSelf']) assert.ok(!forPage.includes(name), name)
    for (const name of ['status', 'devices', 'conversations', 'messages', 'send', 'read', 'events', 'pair']) assert.ok(forPage.includes(name), name)
  })

  it('answers every error class of the table with its status and code, a ControlError as it is, anything else with 500', async () => {
    let thrown: unknown
    const { client, close } = await serve([jsonRoute(API.status, () => { throw thrown })])
    try {
      for (const [type, status, code] of ERROR_TABLE) {
        const Type = type as unknown as new (message: string) => Error
        thrown = new Type(`a ${Type.name} happened`)
        const res = await rawStatus(client)
        assert.deepEqual(res, { status, code, message: `a ${Type.name} happened` }, Type.name)
      }
      thrown = new ControlError(418, 'teapot', 'short and stout')
      assert.deepEqual(await rawStatus(client), { status: 418, code: 'teapot', message: 'short and stout' })
      // a name that only looks like a refusal is not one: the table decides, not a prefix
      thrown = Object.assign(new Error('odd'), { name: 'InvalidLookingError' })
      assert.equal((await rawStatus(client)).status, 500)
      thrown = new TypeError('a bug')
      assert.deepEqual(await rawStatus(client), { status: 500, code: 'internal', message: 'the daemon failed: a bug' })
    } finally {
      await close()
    }
  })

  it('has the table decide by class, so subclasses answer as their parent', async () => {
    class GoneDeviceError extends UnknownDeviceError {}
    const { client, close } = await serve([
      jsonRoute(API.devices, () => { throw new GoneDeviceError('gone') }),
      jsonRoute(API.grants, () => { throw new NotAMemberError('not yours') }),
      jsonRoute(API.conversations, () => { throw new StorageError('the disk is full') })
    ])
    try {
      assert.equal(await failure(client.request(API.devices)), 'gone')
      assert.equal(await failure(client.request(API.grants)), 'not yours')
      const raw = await client.call<unknown>('GET', '/v1/sms/conversations').catch((err: Error) => err.message)
      assert.equal(raw, 'the disk is full')
    } finally {
      await close()
    }
  })
})

/** The status, code and message of the one route (`GET /v1/status`) of a test server. */
async function rawStatus (client: ControlClient): Promise<{ status: number, code: string, message: string }> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath: client.socketPath, path: '/v1/status' }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => { text += d.toString() })
      res.on('end', () => {
        const { error } = JSON.parse(text) as { error: { code: string, message: string } }
        resolve({ status: res.statusCode ?? 0, code: error.code, message: error.message })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the SMS backend registry', () => {
  const handlers: BackendHandlers = { incoming: async () => {}, report: async () => {}, stored: async () => {}, changed: () => {} }

  it('knows every backend by its scheme and lists each in the --sms help', () => {
    for (const uri of ['sim://127.0.0.1:7700/+15550100002', 'at+tcp://127.0.0.1:9', 'at:///dev/ttyUSB9', 'mmcli', 'mmcli:3', 'termux', 'termux?number=+15550100002', 'gammu-smsd:/var/spool/gammu']) {
      assert.equal(createBackend(uri, handlers)?.uri, uri, uri)
    }
    assert.equal(createBackend('none', handlers), undefined)
    const help = backendHelp()
    for (const kind of BACKENDS) assert.ok(help.includes(kind.usage), kind.usage)
  })

  it('refuses an unknown scheme, naming every form it knows', () => {
    assert.throws(() => createBackend('carrier-pigeon://roof', handlers), (err: Error) =>
      err.name === 'InvalidSmsError' && BACKENDS.every(kind => err.message.includes(kind.usage)))
    assert.throws(() => createBackend('termuxx', handlers), /unknown SMS backend/)
    assert.throws(() => createBackend('sim:nowhere', handlers), /is not sim:\/\/HOST:PORT\/NUMBER/)
  })
})
