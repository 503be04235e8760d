import assert from 'node:assert/strict'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventually, keepLogsOnFailure, tempDir, type Device, until } from '../../testbed/index.ts'
import { messageOn, messagesOn, phoneAndLaptop, send } from '../../testbed/sms.ts'

const STUBS = fileURLToPath(new URL('../../testbed/tools/termux', import.meta.url))

describe('the Termux backend (Termux:API stand-ins on PATH)', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  const stub = join(tmp.path, 'termux')
  let phone: Device, laptop: Device

  // written whole (a rename): the phone's real store is a database, never read half-written
  const inbox = (entries: Array<{ _id: number, number: string, body: string }>): void => {
    writeFileSync(join(stub, 'inbox.json.new'), JSON.stringify(entries.map(e => ({ threadid: 1, type: 'inbox', read: false, received: '2026-11-23 10:00:00', ...e }))))
    renameSync(join(stub, 'inbox.json.new'), join(stub, 'inbox.json'))
  }
  const sent = (): Array<{ number: string, body: string }> => {
    try {
      return readFileSync(join(stub, 'sent.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as { number: string, body: string })
    } catch {
      return []
    }
  }

  before(async () => {
    const { mkdirSync } = await import('node:fs')
    mkdirSync(stub)
    inbox([{ _id: 5, number: '+15550109999', body: 'an older text' }, { _id: 6, number: 'DHL Express', body: 'Your parcel is on its way' }])
    writeFileSync(join(stub, 'fail-numbers'), '+15550106666\n')
    ;({ phone, laptop } = await phoneAndLaptop(tmp.path, ['--sms', 'termux?number=+15550100002'], { PATH: `${STUBS}:${process.env.PATH ?? ''}`, TERMUX_STUB_DIR: stub }))
  })

  let failed: Mocha.Test | undefined
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = this.currentTest
  })

  after(async () => {
    await keepLogsOnFailure(failed, [phone, laptop])
    await phone?.stop()
    await laptop?.stop()
    tmp.cleanup()
  })

  it('is ready once it reads the inbox, and sends through termux-sms-send; statuses stop at sent', async () => {
    const status = await phone.json<{ sms: { backend: string, ready: boolean, number?: string } }>('status')
    assert.deepEqual(status.sms, { backend: 'termux?number=+15550100002', ready: true, number: '+15550100002' })
    const id = await send(laptop, '+15550109999', 'from the laptop, through Termux')
    const m = await messageOn(laptop, id, x => x.status === 'sent')
    assert.equal(m.from, '+15550100002')
    assert.deepEqual(sent(), [{ number: '+15550109999', body: 'from the laptop, through Termux' }])
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal((await messagesOn(laptop)).find(x => x.id === id)?.status, 'sent', 'Termux never reports delivery')
  })

  it('sends a text that looks like an option as text: -h and -n+19005550100', async () => {
    const before = sent().length
    for (const body of ['-h', '-n+19005550100']) {
      const id = await send(laptop, '+15550109999', body)
      await messageOn(laptop, id, x => x.status === 'sent')
    }
    assert.deepEqual(sent().slice(before), [{ number: '+15550109999', body: '-h' }, { number: '+15550109999', body: '-n+19005550100' }])
  })

  it('reports what termux-sms-send says when it fails', async () => {
    const id = await send(laptop, '+15550106666', 'this one fails')
    const m = await messageOn(laptop, id, x => x.status === 'failed')
    assert.match(m.reason ?? '', /termux-sms-send failed: Generic failure sending SMS/)
  })

  it('reads the inbox by highest _id, sender ids included, and never twice across a restart', async () => {
    await eventually('the inbox on the laptop', 10_000, async () => {
      const incoming = (await messagesOn(laptop)).filter(m => m.direction === 'in')
      return incoming.length === 2 ? incoming : undefined
    })
    const dhl = (await messagesOn(laptop)).find(m => m.body === 'Your parcel is on its way')
    assert.equal(dhl?.from, 'DHL Express')
    inbox([{ _id: 5, number: '+15550109999', body: 'an older text' }, { _id: 6, number: 'DHL Express', body: 'Your parcel is on its way' }, { _id: 7, number: '+1 555 010 9999', body: 'a new reply' }])
    const reply = await eventually('the new reply', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'a new reply'))
    assert.equal(reply.from, '+15550109999')
    assert.equal(await phone.stop(), 0)
    await phone.start()
    await until('the phone reads its inbox again', 10_000, async () => (await phone.json<{ sms: { ready: boolean } }>('status')).sms.ready)
    await new Promise(resolve => setTimeout(resolve, 1_000))
    assert.equal((await messagesOn(phone)).filter(m => m.direction === 'in').length, 3)
  })
})
