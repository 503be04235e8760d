import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tempDir } from '../../testbed/index.ts'
import { smsDevice } from '../../testbed/sms-store.ts'
import { AccountStore } from '../../node/identity/account.ts'
import { provenIdentity } from '../../node/number-claims.ts'
import { NumberClaimError } from '../../node/errors.ts'
import { NumberChecks } from '../../sms/number-checks.ts'
import { answerOf, askMac, codesIn, newCode, verificationText } from '../../sms/verification.ts'
import { UnknownMessageError } from '../../sms/errors.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'
const ANA_ACCOUNT = '12D3KooWB13Eqjj5kmNvrh2YkquHUsFeKvAhnASkUha9zhZzUhQs'
const BEN_ACCOUNT = '12D3KooWSFXKZYsaMU9thSNeJjZTmnjEWMzGyAYVQX4NYqAdPkeF'

describe('number verification', function () {
  const tmp = tempDir()
  let n = 0
  after(() => { tmp.cleanup() })

  describe('the claimant\'s proof of an SMS code', () => {
    /** Ben's phone, holding an SMS from `from` with `body`, received `ago` ms ago. */
    async function benWith (from: string, body: string, ago = 0): Promise<{ checks: NumberChecks, id: string }> {
      const phone = await smsDevice(tmp.path, `ben-${n++}`)
      await phone.store.write(tx => { tx.append({ type: 'message', id: `in-code-${n}`, direction: 'in', from, to: [BEN], body, author: phone.id, createdAt: Date.now() - ago, via: phone.id }) })
      const checks = new NumberChecks({ store: phone.store, send: async () => { throw new Error('not used') }, waitFor: async () => { throw new Error('not used') } })
      return { checks, id: phone.id }
    }
    const request = (code: string, mac = askMac(code, BEN, ANA, ANA_ACCOUNT)): { number: string, from: string, mac: string, asker: string, askerEpoch: number, claimant: string } => ({ number: BEN, from: ANA, mac, asker: ANA_ACCOUNT, askerEpoch: 0, claimant: BEN_ACCOUNT })

    it('answers once what only a receiver of the code computes, and binds the sender\'s number to the asker', async () => {
      const code = newCode()
      assert.deepEqual(codesIn(verificationText(code)), [code])
      const { checks } = await benWith(ANA, verificationText(code))
      assert.equal(await checks.answer(request(code)), answerOf(code, BEN, ANA, ANA_ACCOUNT, BEN_ACCOUNT))
      assert.deepEqual(checks.list().map(b => [b.number, b.account]), [[ANA, ANA_ACCOUNT]])
      await assert.rejects(checks.answer(request(code)), UnknownMessageError, 'a code is proven once')
    })

    it('answers nothing to an asker that does not know the code, nor for a code from another number or gone stale', async () => {
      const code = newCode()
      const { checks } = await benWith(ANA, verificationText(code))
      await assert.rejects(checks.answer(request(code, askMac(newCode(), BEN, ANA, ANA_ACCOUNT))), UnknownMessageError)
      // the right code, but the asker claims another account than the one it computed the mac for
      await assert.rejects(checks.answer({ ...request(code), asker: BEN_ACCOUNT }), UnknownMessageError)
      const other = await benWith('+15550109999', verificationText(code))
      await assert.rejects(other.checks.answer(request(code)), UnknownMessageError)
      const stale = await benWith(ANA, verificationText(code), 31 * 60_000)
      await assert.rejects(stale.checks.answer(request(code)), UnknownMessageError)
      assert.deepEqual(checks.list(), [], 'nothing bound')
    })
  })

  describe('who a device of another account is', () => {
    async function accountOf (name: string): Promise<{ store: AccountStore, device: string }> {
      const key = await generateKeyPair('Ed25519')
      const dir = join(tmp.path, `${name}-${n++}`)
      mkdirSync(dir)
      return { store: await AccountStore.open(dir, key), device: peerIdFromPrivateKey(key).toString() }
    }
    const identity = (a: AccountStore, chain = a.chainRecord): Record<string, unknown> => ({ cert: Buffer.from(a.certificate).toString('base64'), chain: Buffer.from(chain).toString('base64') })

    it('is the account of its certificate, on the connection of that device, as its epoch chain vouches now', async () => {
      const ben = await accountOf('ben')
      const mallory = await accountOf('mallory')
      assert.deepEqual(await provenIdentity(identity(ben.store), ben.device), { account: ben.store.id, device: ben.device, epoch: 0 })
      await assert.rejects(provenIdentity(identity(ben.store), mallory.device), /a certificate of another device/, 'a certificate shown by another device')
      await assert.rejects(provenIdentity(identity(ben.store, mallory.store.chainRecord), ben.device), /another account/)
      await assert.rejects(provenIdentity({ cert: 'garbage', chain: 'garbage' }, ben.device), NumberClaimError)
      // the account moved on (a device removed): a certificate of the old epoch is vouched for no longer
      const oldCert = ben.store.certificate
      await ben.store.rotate([mallory.device], [])
      await assert.rejects(provenIdentity({ cert: Buffer.from(oldCert).toString('base64'), chain: Buffer.from(ben.store.chainRecord).toString('base64') }, ben.device), /does not vouch for now/)
      assert.deepEqual(await provenIdentity(identity(ben.store), ben.device), { account: ben.store.id, device: ben.device, epoch: 1 })
      // a certificate of the current epoch for a device that epoch removed (a member that went rogue made it)
      const forRemoved = await ben.store.certify(mallory.device)
      await assert.rejects(provenIdentity({ cert: Buffer.from(forRemoved).toString('base64'), chain: Buffer.from(ben.store.chainRecord).toString('base64') }, mallory.device), /does not vouch for now/)
    })
  })
})
