import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Carrier } from '../../carrier/server.ts'
import { runCli } from '../../testbed/device.ts'
import { SimCarrier } from '../../testbed/sms.ts'

const LOGGED = 100_000
/** The longest text a network carries, every unit escaped six-fold in JSON. */
const LONGEST_ESCAPED = '\u0001'.repeat(39_015)

async function listen (server: Server): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no port')
  return address.port
}

describe('companion carrier log', function () {
  this.timeout(120_000)
  let dir: string
  let carrier: SimCarrier

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'carrier-log-'))
    const file = join(dir, 'carrier.db')
    await new Carrier({ host: '127.0.0.1', port: 0, db: file }).close() // creates the schema
    const db = new DatabaseSync(file)
    const insert = db.prepare('INSERT INTO log (sender, recipient, body, at) VALUES (?, ?, ?, ?)')
    db.exec('BEGIN')
    for (let i = 1; i <= LOGGED; i++) insert.run('+15550100001', '+15550109999', i === 7 || i === 8 ? LONGEST_ESCAPED : `text ${i}`, 1_700_000_000_000 + i)
    db.exec('COMMIT')
    db.close()
    carrier = new SimCarrier(undefined, 0)
    await carrier.start('--db', file)
  })

  after(() => {
    carrier?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('prints all 100,000 messages the carrier holds, in order, as JSON and as a table', async () => {
    const log = await carrier.log()
    assert.equal(log.length, LOGGED)
    assert.ok(log.every((e, i) => e.id === i + 1), 'ids 1..100000 in order, none twice')
    assert.equal(log[6]?.body, LONGEST_ESCAPED, 'the longest text survives a page whole')
    assert.equal(log[LOGGED - 1]?.body, `text ${LOGGED}`)

    const table = await runCli(['carrier', 'log', '--carrier', `127.0.0.1:${carrier.port}`], { timeoutMs: 60_000 })
    assert.equal(table.code, 0, table.stderr)
    const lines = table.stdout.trimEnd().split('\n')
    assert.equal(lines.length, LOGGED + 1)
    assert.match(lines[0] ?? '', /^ID\s+FROM\s+TO\s+AT\s+TEXT$/)
    assert.match(lines[LOGGED] ?? '', /^100000\s+\+15550100001\s+\+15550109999\s+2023-.*text 100000$/)
  })

  it('says nothing listens when nothing does', async () => {
    const server = createServer()
    const port = await listen(server)
    await new Promise(resolve => server.close(resolve))
    const res = await runCli(['carrier', 'log', '--carrier', `127.0.0.1:${port}`])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /no carrier at 127\.0\.0\.1:\d+ .*ECONNREFUSED.*start one with companion carrier --listen/)
  })

  it('says what went wrong when something else answers: not "no carrier"', async () => {
    const garbage = createServer(socket => { socket.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
    const silent = createServer(socket => { socket.end() })
    try {
      const res = await runCli(['carrier', 'log', '--carrier', `127.0.0.1:${await listen(garbage)}`])
      assert.equal(res.code, 1)
      assert.match(res.stderr, /sent something that is not its protocol \(a line is not JSON\)/)
      assert.doesNotMatch(res.stderr, /no carrier/)
      const closed = await runCli(['carrier', 'log', '--carrier', `127.0.0.1:${await listen(silent)}`])
      assert.equal(closed.code, 1)
      assert.match(closed.stderr, /closed the connection before answering/)
    } finally {
      garbage.close()
      silent.close()
    }
  })
})
