import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { CpaceError, CpaceSession, pairingChannel } from '../../node/identity/cpace.ts'
import { PairingBudget } from '../../node/identity/pairing-budget.ts'
import { openGift, sealGift } from '../../node/identity/pairing-messages.ts'
import { PAIR_FAILURE_WINDOW_MS } from '../../node/identity/constants.ts'

const code = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Run both sides of CPace; true when each confirms the other. */
function agree (a: { password: string, channel: Uint8Array }, b: { password: string, channel: Uint8Array }, sid = randomBytes(32)): boolean {
  const initiator = new CpaceSession({ password: code(a.password), channel: a.channel, sid, initiator: true })
  const responder = new CpaceSession({ password: code(b.password), channel: b.channel, sid, initiator: false })
  const ki = initiator.finish(responder.share)
  const kr = responder.finish(initiator.share)
  return ki.confirms(kr.ownConfirmation) && kr.confirms(ki.ownConfirmation)
}

describe('pairing, piece by piece', () => {
  const joiner = randomBytes(38)
  const member = randomBytes(38)
  const channel = pairingChannel(joiner, member)

  it('CPace: the same code and devices agree; another code or another device in the channel does not', () => {
    assert.ok(agree({ password: '042317', channel }, { password: '042317', channel }))
    assert.ok(!agree({ password: '042317', channel }, { password: '042318', channel }))
    assert.ok(!agree({ password: '042317', channel }, { password: '042317', channel: pairingChannel(randomBytes(38), member) }), 'a device in the middle has another id')
  })

  it('CPace: refuses the identity element and bytes that are no group element', () => {
    const s = new CpaceSession({ password: code('000000'), channel, sid: randomBytes(32), initiator: true })
    assert.throws(() => s.finish(new Uint8Array(32)), CpaceError)
    assert.throws(() => s.finish(new Uint8Array(32).fill(0xff)), CpaceError)
    assert.throws(() => s.finish(new Uint8Array(31)), CpaceError)
  })

  it('the account gift opens only with the session key', () => {
    const key = randomBytes(32)
    const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
    const gift = { accountKey: bytes(68), certificate: bytes(200), chain: bytes(100) }
    assert.deepEqual(openGift(key, sealGift(key, gift)), gift)
    assert.throws(() => openGift(randomBytes(32), sealGift(key, gift)), /does not decrypt/)
    const sealed = sealGift(key, gift)
    sealed[20] = (sealed[20] ?? 0) ^ 1
    assert.throws(() => openGift(key, sealed), /does not decrypt/)
  })

  it('the budget: 3 wrong codes from anyone refuse everyone for 10 minutes; timeouts refuse only their device', () => {
    let now = 1_000_000
    const budget = new PairingBudget(() => now)
    for (let i = 0; i < 3; i++) budget.timedOut('walker')
    assert.match(budget.refusal('walker') ?? '', /too many failed attempts from this device/)
    assert.equal(budget.refusal('someone-else'), undefined, 'a stranger who walks away locks out only itself')
    budget.wrongCode()
    budget.wrongCode()
    assert.equal(budget.refusal('someone-else'), undefined)
    now += 1_000
    assert.equal(budget.wrongCode(), 3)
    assert.match(budget.refusal('anyone') ?? '', /3 wrong codes in 10 minutes\); try again in 10 minute/)
    now += PAIR_FAILURE_WINDOW_MS - 1_500
    assert.match(budget.refusal('anyone') ?? '', /try again in 1 minute/)
    now += 1_000
    assert.equal(budget.refusal('anyone'), undefined, 'the oldest wrong code left the window')
  })
})
