import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { DeviceNode } from '../../node/create-node.ts'
import { MAX_PENDING_PAIR_REQUESTS } from '../../node/identity/constants.ts'
import { CpaceSession, pairingChannel } from '../../node/identity/cpace.ts'
import { b64, sealGift, unb64 } from '../../node/identity/pairing-messages.ts'
import { Device, tempDir, type DeviceRow, until } from '../../testbed/index.ts'
import { startPairing } from '../../testbed/pairing.ts'
import { openPairing, readMessage, replacePairing, rogueDir, rogueNode, writeMessage } from '../../testbed/rogue.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

const accountOf = async (device: Device): Promise<string> => (await device.json<{ account: string }>('status')).account
const addressOf = async (device: Device): Promise<string> => (await device.json<{ addresses: string[] }>('status')).addresses[0] ?? ''
const members = async (device: Device): Promise<string[]> => (await device.json<DeviceRow[]>('devices')).filter(r => r.relation === 'member').map(r => r.id)

describe('pairing under attack', function () {
  this.timeout(90_000)
  const tmp = tempDir()
  let devices: Device[] = []
  let rogues: DeviceNode[] = []

  afterEach(async () => {
    await Promise.all(devices.map(async d => { await d.stop() }))
    await Promise.all(rogues.map(async r => { await r.stop() }))
    devices = []
    rogues = []
  })
  after(() => { tmp.cleanup() })

  async function device (name: string, ...args: string[]): Promise<Device> {
    const d = new Device({ dataDir: join(tmp.path, `${name}-${devices.length}`), name, args: [...LOOPBACK, ...args] })
    devices.push(d)
    await d.start()
    return d
  }

  async function rogue (name: string, bootstrap: string[] = []): Promise<DeviceNode> {
    const r = await rogueNode(rogueDir(tmp.path, `${name}-${rogues.length}`), name, { bootstrap })
    rogues.push(r)
    return r
  }

  const rogueAddress = (r: DeviceNode): string => r.libp2p.getMultiaddrs()[0]?.toString() ?? ''

  it('a stranger named like the member that accepts at once does not get the joining device', async function () {
    const stranger = await rogue("Ana's phone")
    let lastWord: Record<string, unknown> | undefined
    // a faithful member side, except that it never asks anyone for the code: it guesses
    await replacePairing(stranger, async (lp, _stream, connection) => {
      const hello = await readMessage(lp)
      const sid = randomBytes(16)
      await writeMessage(lp, { t: 'wait', sid: b64(sid) })
      const session = new CpaceSession({
        password: new TextEncoder().encode('000000'),
        channel: pairingChannel(connection.remotePeer.toMultihash().bytes, stranger.libp2p.peerId.toMultihash().bytes),
        sid: new Uint8Array([...unb64(hello.sid, 'sid'), ...sid]),
        initiator: true
      })
      await writeMessage(lp, { t: 'share', y: b64(session.share) })
      const theirs = await readMessage(lp)
      const keys = session.finish(unb64(theirs.y, 'share'))
      const gift = await stranger.account.giftFor(connection.remotePeer.toString())
      await writeMessage(lp, { t: 'accept', confirm: b64(keys.ownConfirmation), gift: b64(sealGift(keys.sessionKey, gift)) })
      lastWord = await readMessage(lp)
    })
    const laptop = await device('laptop', '--bootstrap', rogueAddress(stranger))
    const before = await accountOf(laptop)
    await until('the stranger listed by its name', 10_000, async () =>
      (await laptop.json<DeviceRow[]>('devices')).some(r => r.name === "Ana's phone"))

    const attempt = startPairing(laptop, "Ana's phone")
    const code = await attempt.code
    const result = await attempt.result
    if (code === '000000') this.skip() // the stranger's one guess in a million was right
    assert.equal(result.code, 1)
    assert.match(result.stderr, /does not know the code/)
    assert.equal(await accountOf(laptop), before, 'the laptop is still an account of its own')
    assert.notEqual(await accountOf(laptop), stranger.account.id)
    assert.equal(lastWord?.t, 'error', 'the laptop told the stranger it refused')
  })

  it('a stranger relaying between a joining device and a member gets neither, though the right code is typed', async () => {
    const member = await device('device-1')
    const memberAddress = await addressOf(member)
    const relay = await rogue('device-1', [memberAddress])
    // in the middle: it passes every message on, and when the member refuses, it tells the
    // joiner "accepted" with an account of its own
    await replacePairing(relay, async (joinerSide, _stream, connection) => {
      const memberSide = await openPairing(relay, peerIdFromString(member.id))
      const toJoiner = (async () => {
        for (;;) {
          const message = await readMessage(memberSide)
          if (message.t === 'reject') {
            const gift = await relay.account.giftFor(connection.remotePeer.toString())
            await writeMessage(joinerSide, { t: 'accept', confirm: b64(randomBytes(32)), gift: b64(sealGift(randomBytes(32), gift)) })
            return
          }
          await writeMessage(joinerSide, message)
        }
      })()
      const toMember = (async () => {
        for (;;) await writeMessage(memberSide, await readMessage(joinerSide))
      })()
      await Promise.race([toJoiner, toMember])
    })
    const joiner = await device('laptop', '--bootstrap', rogueAddress(relay))
    const [joinerBefore, memberBefore] = [await accountOf(joiner), await accountOf(member)]

    const attempt = startPairing(joiner, relay.libp2p.peerId.toString())
    const code = await attempt.code
    await until('the relayed request is listed on the member', 10_000, async () =>
      (await member.json<Array<{ id: string }>>('pair', 'requests')).some(r => r.id === relay.libp2p.peerId.toString()))
    const typed = await member.cli('pair', 'accept', relay.libp2p.peerId.toString(), '--code', code)
    assert.equal(typed.code, 1)
    assert.match(typed.stderr, /the code did not match/)
    const joined = await attempt.result
    assert.equal(joined.code, 1)
    assert.deepEqual([await accountOf(joiner), await accountOf(member)], [joinerBefore, memberBefore])
    assert.deepEqual(await members(member), [], 'the member took neither the stranger nor the laptop')
    assert.deepEqual(await members(joiner), [])
  })

  it('takes at most 3 wrong codes per 10 minutes from all devices together, whatever ids they take', async () => {
    const member = await device('device-1')
    const memberAddress = await addressOf(member)
    const guess = async (attempt: number): Promise<string> => {
      const guesser = await rogue(`guesser-${attempt}`)
      await guesser.libp2p.dial(multiaddr(memberAddress))
      const shown = Promise.withResolvers<string>()
      const joining = guesser.libp2p.services.pairing.join(peerIdFromString(member.id), { timeoutMs: 20_000, onCode: shown.resolve })
      joining.catch(() => {})
      const code = await Promise.race([shown.promise, joining.then(() => 'joined')])
      if (!/^\d{6}$/.test(code)) return code
      await until('the request is listed', 5_000, async () =>
        (await member.json<Array<{ id: string }>>('pair', 'requests')).some(r => r.id === guesser.libp2p.peerId.toString()))
      // the person types a code other than the one the guesser's session holds: a wrong guess
      const typed = await member.cli('pair', 'accept', guesser.libp2p.peerId.toString(), '--code', code === '123456' ? '654321' : '123456')
      await joining.catch(() => {})
      return typed.stderr
    }
    for (let i = 1; i <= 3; i++) assert.match(await guess(i), new RegExp(`did not match \\(attempt ${i} of 3\\)`))
    // a fresh id, and a reconnect: refused before any code is taken
    const fresh = await rogue('guesser-4')
    await fresh.libp2p.dial(multiaddr(memberAddress))
    await assert.rejects(fresh.libp2p.services.pairing.join(peerIdFromString(member.id), { onCode: () => {} }), /too many failed attempts/)
    // nobody joined
    assert.deepEqual(await members(member), [])
  })

  it('keeps at most 8 requests waiting, from all devices together', async () => {
    const member = await device('device-1')
    const memberAddress = await addressOf(member)
    const joiners: DeviceNode[] = []
    for (let i = 0; i <= MAX_PENDING_PAIR_REQUESTS; i++) {
      const r = await rogue(`joiner-${i}`)
      // one at a time: libp2p takes at most 5 new connections per second from one host
      await new Promise(resolve => setTimeout(resolve, 250))
      await r.libp2p.dial(multiaddr(memberAddress))
      joiners.push(r)
    }
    const attempts = joiners.slice(0, MAX_PENDING_PAIR_REQUESTS).map(r => {
      const attempt = r.libp2p.services.pairing.join(peerIdFromString(member.id), { timeoutMs: 30_000, onCode: () => {} })
      attempt.catch(() => {})
      return attempt
    })
    await until('8 requests waiting', 10_000, async () => (await member.json<unknown[]>('pair', 'requests')).length === MAX_PENDING_PAIR_REQUESTS)
    const last = joiners[MAX_PENDING_PAIR_REQUESTS] as DeviceNode
    await assert.rejects(last.libp2p.services.pairing.join(peerIdFromString(member.id), { onCode: () => {} }), /8 pairing requests are already waiting/)
    for (const r of joiners.slice(0, MAX_PENDING_PAIR_REQUESTS)) assert.equal((await member.cli('pair', 'reject', r.libp2p.peerId.toString())).code, 0)
    await Promise.allSettled(attempts)
  })
})

