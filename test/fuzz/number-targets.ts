/**
 * Fuzz target for what another account's device (or a stranger) sends on
 * `/companion/number/1.0.0`: claims, proofs, texts and receipts, mutated. Every request gets
 * an answer (an error or a valid one), nothing escapes, and nothing is stored but texts from
 * the account bound to their number.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { AccountStore } from '../../node/identity/account.ts'
import { MAX_NUMBER_MESSAGE_BYTES, NumberClaims, type NumberClaimsComponents } from '../../node/number-claims.ts'
import { NumberClaimError } from '../../node/errors.ts'
import { NetworkTexts } from '../../sms/network-texts.ts'
import { prepared } from '../../sms/materialize.ts'
import { InvalidSmsError } from '../../sms/errors.ts'
import { pick } from '../../testbed/sms-events.ts'
import { smsDevice } from '../../testbed/sms-store.ts'
import { mutateBytes, mutateJson } from './mutate.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'

const ANA = '+15550100001'
const BEN = '+15550100002'
let runs = 0
/** The in-memory pair's address: its default numbers them as ports, which run out after 65,535 pairs. */
export const FIXED_ADDRESSES = { outboundConnection: { remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/1') }, inboundConnection: { remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/2') } } as unknown as Parameters<typeof streamPair>[0]

const unused = async (): Promise<never> => { throw new Error('not used by the fuzz target') }

export async function account (dir: string): Promise<{ store: AccountStore, device: string }> {
  mkdirSync(dir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  return { store: await AccountStore.open(dir, key), device: peerIdFromPrivateKey(key).toString() }
}

export const numbers: FuzzTarget = {
  name: 'numbers',
  async run (random, inputs, dir) {
    const run = runs++
    const ana = await account(join(dir, `ana-${run}`))
    const ben = await account(join(dir, `ben-${run}`))
    const phone = await smsDevice(dir, `numbers-${run}`)
    await phone.store.write(tx => { tx.append({ type: 'binding', number: ANA, account: ana.store.id, at: Date.now() }) })
    const network = new NetworkTexts({ store: phone.store, ownNumber: () => BEN, carry: unused, deny: () => [], hasBlob: () => false, rate: 1_000_000, log: logger('fuzz:numbers') })
    const refusal = (err: unknown): never => { throw err instanceof InvalidSmsError ? new NumberClaimError(err.message) : err }
    const components: NumberClaimsComponents = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), contentRouting: { provide: unused, findProviders: () => { throw new Error('not used') } }, dialProtocol: unused, handle: unused, unhandle: unused }
    const claims = new NumberClaims(components, {
      account: ben.store,
      ownNumber: () => BEN,
      accountNumbers: () => [BEN],
      isMember: () => false,
      answer: async () => { throw new NumberClaimError('no code from that number has arrived here (yet)') },
      receive: async (text) => { await network.receive({ ...text, account: text.sender.account }).catch(refusal) },
      receipt: async (receipt) => { await network.receipt({ ...receipt, account: receipt.sender.account }).catch(refusal) },
      log: logger('fuzz:numbers')
    })
    const identity = { cert: Buffer.from(ana.store.certificate).toString('base64'), chain: Buffer.from(ana.store.chainRecord).toString('base64') }
    const corpus: Array<Record<string, unknown>> = [
      { t: 'claim', number: BEN },
      { t: 'proof', number: BEN, from: ANA, mac: Buffer.alloc(32, 7).toString('base64'), ...identity },
      { t: 'text', id: 'text-00000001', from: ANA, to: BEN, body: 'hello Ben', createdAt: Date.now(), ...identity },
      { t: 'receipt', from: ANA, to: BEN, ids: ['text-00000001'], ...identity }
    ]
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const encoder = new TextEncoder()
    try {
      for (let i = 0; i < inputs; i++) {
        const valid = pick(random, corpus)
        const mutated = { ...(mutateJson(random, valid) as Record<string, unknown>) }
        // fresh ids, so that a valid text is a new one
        if (mutated.t === 'text' && typeof mutated.id === 'string' && random() < 0.5) mutated.id = `text-${i}-${run}`
        const bytes = random() < 0.8 ? encoder.encode(JSON.stringify(mutated)) : mutateBytes(random, encoder.encode(JSON.stringify(valid)))
        const [mine, theirs] = await streamPair(FIXED_ADDRESSES)
        // now and then the connection is another device's than the certificate's (a stolen certificate)
        const remote = random() < 0.9 ? ana.device : ben.device
        const served = claims.serve(theirs, remote)
        const lp = lpStream(mine)
        let answer: Record<string, unknown>
        try {
          await lp.write(bytes)
          answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Record<string, unknown>
        } catch (err) {
          await served
          // a request over the limit is cut, unanswered: a refusal too
          if (bytes.byteLength > MAX_NUMBER_MESSAGE_BYTES) { stats.refused++; continue }
          throw new FuzzFinding(`input ${i}: no answer (${(err as Error).message}) to ${new TextDecoder().decode(bytes).slice(0, 200)}`)
        }
        await served
        if ((answer.stored === true || answer.ok === true) && remote !== ana.device) throw new FuzzFinding(`input ${i}: taken from a device that is not the certificate's`)
        if (typeof answer.error === 'string') stats.refused++
        else if (answer.stored === true || answer.ok === true || typeof answer.cert === 'string') stats.accepted++
        else throw new FuzzFinding(`input ${i}: an answer that is neither a refusal nor a result: ${JSON.stringify(answer).slice(0, 200)}`)
      }
      const strangers = prepared(phone.store.db, "SELECT COUNT(*) AS n FROM messages WHERE direction = 'in' AND (sender != ? OR route != 'network')").get(ANA) as { n: number }
      if (strangers.n > 0) throw new FuzzFinding(`${strangers.n} texts stored that are not from the account bound to ${ANA}`)
    } finally {
      network.stop()
      phone.store.close()
    }
    return stats
  }
}

export const NUMBER_TARGETS: FuzzTarget[] = [numbers]
