import assert from 'node:assert/strict'
import { Testbed, CLI, eventually, runCli, type Device, type DeviceRow, until } from '../../testbed/index.ts'
import { startHelper } from '../../testbed/processes.ts'
import { pair } from '../../testbed/pairing.ts'
import { SimCarrier, messageOn, messagesOn, send, type Sms } from '../../testbed/sms.ts'

const PHONE_NUMBER = '+15550100002'
const PHONE2_NUMBER = '+15550100004'
const DENIED = '+15550100666'
const FINAL = new Set(['sent', 'delivered', 'failed', 'unauthorized'])
const SYNC = 'sms-sync'

/** How many times the carrier carried each text. */
function carriedCounts (log: Array<{ body: string }>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const e of log) counts.set(e.body, (counts.get(e.body) ?? 0) + 1)
  return counts
}

describe('SMS through the phone', function () {
  this.timeout(180_000)
  let bed: Testbed
  let carrier: SimCarrier
  let laptop: Device, phone: Device, tablet: Device, phone2: Device, stranger: Device

  const capabilitiesOf = async (viewer: Device, other: Device): Promise<string[]> =>
    (await viewer.api.call<DeviceRow[]>('GET', '/v1/devices')).find(r => r.id === other.id)?.capabilities ?? []
  const online = async (viewer: Device, other: Device): Promise<boolean> =>
    (await viewer.api.call<DeviceRow[]>('GET', '/v1/devices')).find(r => r.id === other.id)?.online === true

  before(async () => {
    bed = new Testbed({
      devices: 5,
      links: 1,
      args: (i) => ({
        1: ['--kind', 'laptop'],
        2: ['--kind', 'phone', '--sms', `sim://127.0.0.1:7700/${PHONE_NUMBER}`, '--sms-rate', '100000/min', '--sms-deny', DENIED],
        3: ['--kind', 'tablet'],
        4: ['--kind', 'phone', '--sms', `sim://198.18.1.2:7700/${PHONE2_NUMBER}?signal=1`, '--sms-rate', '3/min'],
        5: ['--kind', 'laptop']
      })[i] ?? []
    })
    ;[laptop, phone, tablet, phone2, stranger] = bed.devices as [Device, Device, Device, Device, Device]
    carrier = new SimCarrier(bed.lan.host(2).ns)
    await carrier.start()
    for (const d of bed.devices) await d.start()
    await until('all see each other', 15_000, async () => await bed.allSeeEachOther())
    await pair(laptop, phone)
    await pair(tablet, phone)
    await pair(phone2, phone)
    await until('the laptop knows both phones as proxies', 15_000, async () =>
      (await capabilitiesOf(laptop, phone)).includes('sms.send') && (await capabilitiesOf(laptop, phone2)).includes('sms.send'))
  })

  after(async () => {
    carrier?.stop()
    await bed?.close()
  })

  it('sends from the laptop through the phone once; the reply and every status reach the laptop and the tablet; read on one is read on all', async () => {
    const sent = await laptop.json<{ id: string, to: string[], via: string, status: string, parts: number, encoding: string }>('sms', 'send', '+15550109999', 'dinner at 8?', '--wait', 'sent')
    assert.deepEqual([sent.parts, sent.encoding], [1, 'gsm7'])
    // +15550109999 is attached to no phone: the network carries it, and it stays `sent`
    assert.equal(sent.status, 'sent')
    assert.equal(sent.via, phone.id, 'the best proxy is the phone with the better signal')
    const human = await laptop.cli('sms', 'send', '+15550109999', 'Grüße aus Köln, 5 € 😀')
    assert.equal(human.code, 0)
    assert.match(human.stdout, /^[0-9a-f-]{36}\n$/, 'stdout is the id alone')
    assert.match(human.stderr, /1 SMS part per recipient, UCS-2/)
    const onTablet = await messageOn(tablet, sent.id, m => m.status === 'sent')
    assert.equal(onTablet.direction, 'out')
    assert.equal(onTablet.author, laptop.id)
    assert.equal(onTablet.from, PHONE_NUMBER)
    assert.deepEqual(onTablet.statusHistory.map(s => s.status), ['pending', 'accepted', 'sent'])
    assert.deepEqual(onTablet.statusHistory.slice(1).map(s => s.device), [phone.id, phone.id])

    await carrier.inject('+15550109999', PHONE_NUMBER, 'yes! see you')
    const reply = await eventually('the reply on the laptop', 10_000, async () =>
      (await messagesOn(laptop)).find(m => m.direction === 'in' && m.body === 'yes! see you'))
    assert.equal(reply.from, '+15550109999')
    assert.equal(reply.conversation, '+15550109999', 'one conversation with the number, both directions')
    assert.equal(reply.read, false)
    await messageOn(tablet, reply.id, m => !m.read)

    const read = await tablet.cli('sms', 'read', '+15550109999')
    assert.equal(read.code, 0, read.stderr)
    await messageOn(laptop, reply.id, m => m.read)
    await messageOn(phone, reply.id, m => m.read)

    const carried = carriedCounts(await carrier.log())
    assert.equal(carried.get('dinner at 8?'), 1)
    const conversations = await laptop.json<Array<{ conversation: string, unread: number, messages: number }>>('sms', 'conversations')
    assert.deepEqual(conversations.find(c => c.conversation === '+15550109999'), { ...conversations.find(c => c.conversation === '+15550109999'), unread: 0, messages: 3 })
  })

  it('carries a 6,000-character SMS from anyone whole to every device, and the texts after it still flow', async () => {
    const long = 'Long texts are kept whole, up to what a network delivers. '.repeat(104).slice(0, 6_000)
    await carrier.inject('+15550101111', PHONE_NUMBER, long)
    await carrier.inject('+15550101111', PHONE_NUMBER, 'and the short one after it')
    for (const device of [laptop, tablet]) {
      const got = await eventually(`both texts on ${device.init.name ?? ''}`, 15_000, async () => {
        const from = (await messagesOn(device)).filter(m => m.from === '+15550101111')
        return from.length === 2 ? from : undefined
      })
      assert.deepEqual(got.map(m => m.body.length), [6_000, 'and the short one after it'.length])
      assert.equal(got[0]?.body, long)
    }
    const id = await send(laptop, '+15550101111', 'a reply, after the long one')
    await messageOn(tablet, id, m => m.status === 'sent')
  })

  it('cuts off a member that sends garbage on the sync channel; the daemon keeps running and loses nothing', async () => {
    const before = await messagesOn(laptop)
    const frame = (text: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, Buffer.byteLength(text)]), Buffer.from(text)])
    const garbage = [
      'plain text, no frames at all',
      frame('{"t":"event"}'),
      frame('[1,2,3]'),
      Buffer.concat([frame('{"t":"hello","v":1,"vv":{}}'), frame('{"t":"e","p":"x","s":"y"}')]),
      Buffer.from([0x7f, 0xff, 0xff, 0xff])
    ]
    for (const input of garbage) {
      const res = await runCli(['--data-dir', tablet.dataDir, 'connect', 'laptop', SYNC], { input: input.toString('latin1'), timeoutMs: 10_000 })
      assert.notEqual(res.code, null)
    }
    assert.ok(laptop.running, 'the laptop daemon is still running')
    assert.deepEqual((await messagesOn(laptop)).map(m => m.id), before.map(m => m.id))
    // and replication still works afterwards
    const id = await send(laptop, '+15550109999', 'after the garbage')
    await messageOn(tablet, id, m => m.status === 'sent')
  })

  it('streams messages and statuses to `sms watch --json` as they happen', async () => {
    const watch = startHelper([process.execPath, CLI, '--data-dir', tablet.dataDir, 'sms', 'watch', '--json'])
    try {
      await watch.errLine(/^watching messages/, 10_000)
      const id = await send(laptop, '+15550109999', 'watched from the tablet')
      await watch.line(new RegExp(`"status":"sent".*"id":"${id}"|"id":"${id}".*"status":"sent"`), 15_000)
      const events = watch.stdout().trim().split('\n').map(l => JSON.parse(l) as { type: string, message: Sms }).filter(e => e.message.id === id)
      assert.equal(events[0]?.type, 'message')
      assert.deepEqual([...new Set(events.map(e => e.message.status))], ['pending', 'accepted', 'sent'].filter(st => events.some(e => e.message.status === st)))
      assert.equal(events.at(-1)?.message.body, 'watched from the tablet')
    } finally {
      watch.kill('SIGINT')
      assert.equal(await watch.exited, 0, 'Ctrl-C ends watch cleanly')
    }
  })

  it('delivers between two attached phones with a delivery report', async () => {
    const sent = await laptop.json<{ id: string, status: string }>('sms', 'send', PHONE2_NUMBER, 'ping phone two', '--via', 'device-2', '--wait', 'delivered')
    assert.equal(sent.status, 'delivered')
    // phone two received it as an incoming SMS, and so did every device of the account
    await eventually('the incoming copy on the tablet', 10_000, async () =>
      (await messagesOn(tablet)).find(m => m.direction === 'in' && m.body === 'ping phone two' && m.from === PHONE_NUMBER))
  })

  it('refuses a device outside the account and a member without the grant: unauthorized, nothing carried', async () => {
    await until('the stranger sees the phone', 10_000, async () => await online(stranger, phone))
    const outsider = await stranger.cli('sms', 'send', '+15550107777', 'from a stranger', '--via', phone.id, '--json')
    assert.equal(outsider.code, 1)
    assert.match(outsider.stderr, /refused: this phone carries messages only for devices of its own account/)
    assert.match(outsider.stderr, /nothing was sent to it/, 'refused here: the text and its recipients never leave the stranger')
    const onStranger = (await messagesOn(stranger)).find(m => m.body === 'from a stranger')
    assert.equal(onStranger?.status, 'unauthorized')
    assert.equal((await messagesOn(phone)).find(m => m.body === 'from a stranger'), undefined, 'the phone keeps nothing of it')

    const revoke = await phone.cli('grant', 'device-4', 'sms.send')
    assert.equal(revoke.code, 0)
    assert.equal((await phone.cli('revoke', 'device-4', 'sms.send')).code, 0)
    const id = await send(phone2, '+15550107777', 'from a member without the grant', phone.id)
    const refused = await messageOn(phone2, id, m => m.status === 'unauthorized')
    assert.match(refused.reason ?? '', /sms\.send/)
    await messageOn(laptop, id, m => m.status === 'unauthorized')
    const carried = carriedCounts(await carrier.log())
    assert.equal(carried.get('from a stranger'), undefined)
    assert.equal(carried.get('from a member without the grant'), undefined)
    assert.equal((await phone.cli('grant', 'device-4', 'sms.send')).code, 0)

    // a phone that refuses a device says so in its profile: that device chooses another phone
    assert.equal((await phone.cli('revoke', 'device-1', 'sms.send')).code, 0)
    try {
      await until('the laptop learns the phone refuses it', 10_000, async () => {
        const id = await send(laptop, '+15550107777', 'not through the phone that refuses me')
        const m = await messageOn(laptop, id, x => FINAL.has(x.status))
        return m.via === phone2.id && m.status === 'sent'
      }, 500)
    } finally {
      assert.equal((await phone.cli('grant', 'device-1', 'sms.send')).code, 0)
    }
  })

  it('blocks short codes and denied numbers, and enforces the per-device rate limit', async () => {
    const short = await laptop.cli('sms', 'send', '12345', 'STOP', '--via', 'device-2', '--wait', 'sent')
    assert.equal(short.code, 1)
    assert.match(short.stderr, /12345 is a short code or premium number/)
    const denied = await laptop.cli('sms', 'send', DENIED, 'hello?', '--via', 'device-2', '--wait', 'sent')
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /deny list/)

    // phone two allows 3 a minute per device
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push(await send(tablet, '+15550108888', `rate ${i}`, phone2.id))
    const ends = await Promise.all(ids.map(async id => await messageOn(tablet, id, m => FINAL.has(m.status))))
    assert.deepEqual(ends.map(m => m.status), ['sent', 'sent', 'sent', 'failed'])
    assert.match(ends[3]?.reason ?? '', /rate limit: at most 3 messages a minute/)
    const carried = carriedCounts(await carrier.log())
    assert.equal(carried.get('STOP'), undefined)
    assert.equal(carried.get('hello?'), undefined)
    assert.equal(carried.get('rate 3'), undefined)
  })

  it('never sends twice when the phone is killed in the middle of a 200-message burst', async () => {
    const ids: string[] = []
    const burst = (async () => {
      for (let i = 0; i < 200; i++) ids.push(await send(laptop, '+15550105555', `burst ${i}`, phone.id))
    })()
    await until('some of the burst carried', 20_000, async () => (await carrier.log()).filter(e => e.body.startsWith('burst ')).length >= 20, 20)
    await phone.stop('SIGKILL')
    const carriedAtKill = (await carrier.log()).filter(e => e.body.startsWith('burst ')).length
    assert.ok(carriedAtKill < 200, `the kill came in the middle of the burst (${carriedAtKill} carried)`)
    await burst
    await phone.start()
    const ends = await eventually('every message of the burst settled on the laptop', 60_000, async () => {
      const all = (await messagesOn(laptop)).filter(m => m.body.startsWith('burst '))
      return all.length === 200 && all.every(m => FINAL.has(m.status)) ? all : undefined
    }, 250)
    const carried = carriedCounts(await carrier.log())
    for (const m of ends) {
      const times = carried.get(m.body) ?? 0
      assert.ok(times <= 1, `${m.body} carried ${times} times`)
      if (m.status === 'sent') assert.equal(times, 1, `${m.body} is sent but was carried ${times} times`)
      else assert.ok(m.status === 'failed' && m.reason != null, `${m.body} ended ${m.status} without a reason`)
    }
    assert.ok(ends.filter(m => m.status === 'sent').length >= 150, 'most of the burst went out')
  })

  it('a tablet offline during a conversation catches up on return, with statuses and reads', async () => {
    await tablet.stop()
    const id = await send(laptop, '+15550104444', 'while the tablet sleeps')
    await messageOn(laptop, id, m => m.status === 'sent')
    await carrier.inject('+15550104444', PHONE_NUMBER, 'answer while the tablet sleeps')
    const answer = await eventually('the answer on the laptop', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'answer while the tablet sleeps'))
    assert.equal((await laptop.cli('sms', 'read', answer.id)).code, 0)
    await tablet.start()
    const outgoing = await messageOn(tablet, id, m => m.status === 'sent', 20_000)
    assert.deepEqual(outgoing.statusHistory.map(s => s.status), ['pending', 'accepted', 'sent'])
    await messageOn(tablet, answer.id, m => m.read)
    // all devices converge on the same history
    const view = (ms: Sms[]): string[] => ms.map(m => `${m.id} ${m.status} ${String(m.read)} ${m.statusHistory.length}`).sort()
    await until('laptop and tablet hold the same history', 20_000, async () =>
      JSON.stringify(view(await messagesOn(laptop))) === JSON.stringify(view(await messagesOn(tablet))), 250)
  })

  it('with two phones: --via is honoured, and with the best phone down new messages go to the other, none by both', async () => {
    const chosen = await send(laptop, '+15550103333', 'through phone two', phone2.id)
    const viaTwo = await messageOn(laptop, chosen, m => m.status === 'sent')
    assert.equal(viaTwo.via, phone2.id)
    assert.equal(viaTwo.from, PHONE2_NUMBER)

    assert.equal(await phone.stop(), 0, 'a phone with members and a carrier stops cleanly')
    await until('the laptop sees the phone gone', 15_000, async () => !(await online(laptop, phone)))
    const failover = await send(laptop, '+15550103333', 'phone one is down')
    const m = await messageOn(laptop, failover, x => x.status === 'sent')
    assert.equal(m.via, phone2.id)
    const log = await carrier.log()
    assert.deepEqual(log.filter(e => e.body === 'phone one is down').map(e => e.from), [PHONE2_NUMBER])
    assert.deepEqual(log.filter(e => e.body === 'through phone two').map(e => e.from), [PHONE2_NUMBER])

    // no phone at all: the message waits, survives a restart of the laptop, and goes when a phone returns
    assert.equal(await phone2.stop(), 0)
    await until('the laptop sees phone two gone', 15_000, async () => !(await online(laptop, phone2)))
    const waiting = await send(laptop, '+15550103333', 'no phone anywhere')
    assert.equal((await messageOn(laptop, waiting, m => m.status === 'pending')).via, null)
    assert.equal(await laptop.stop(), 0)
    await laptop.start()
    assert.equal((await messagesOn(laptop)).find(m => m.id === waiting)?.status, 'pending')
    await phone.start()
    const went = await messageOn(laptop, waiting, m => m.status === 'sent', 30_000)
    assert.equal(went.via, phone.id)
    await phone2.start()
    assert.deepEqual((await carrier.log()).filter(e => e.body === 'no phone anywhere').map(e => e.from), [PHONE_NUMBER])
  })

  it('shows incoming texts only to devices the phone grants sms.receive, and keeps the others in sync', async () => {
    assert.equal((await phone.cli('revoke', 'device-3', 'sms.receive')).code, 0)
    try {
      await carrier.inject('+15550106666', PHONE_NUMBER, 'for the laptop only')
      await eventually('on the laptop', 10_000, async () => (await messagesOn(laptop)).find(m => m.body === 'for the laptop only'))
      // the tablet's log moves past it (a placeholder), so what comes next still arrives
      const next = await send(laptop, '+15550106666', 'everyone sees this one')
      await messageOn(tablet, next, m => m.status === 'sent')
      assert.equal((await messagesOn(tablet)).find(m => m.body === 'for the laptop only'), undefined)
    } finally {
      assert.equal((await phone.cli('grant', 'device-3', 'sms.receive')).code, 0)
    }
  })
})
