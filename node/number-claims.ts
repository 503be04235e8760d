import { createHash } from 'node:crypto'
import type { AbortOptions, ContentRouting, Logger, PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { jsonObject } from '../framing/json-object.ts'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as digestOf } from 'multiformats/hashes/digest'
import type { AccountStore } from './identity/account.ts'
import { EpochChain } from './identity/epochs.ts'
import { openCertificate } from './identity/records.ts'
import { NumberClaimError } from './errors.ts'
import { checkAttachments } from '../sms/attachment-shape.ts'
import type { Attachment } from '../sms/view-types.ts'

/** Between devices of different accounts: who claims a number, and the proof of an SMS code. */
export const NUMBER_PROTOCOL = '/companion/number/1.0.0'
/** A request or answer on it; a certificate and an epoch chain fit. */
export const MAX_NUMBER_MESSAGE_BYTES = 64 * 1024
const NUMBER_TIMEOUT_MS = 10_000
/** A phone provides its number's key again this often (providers expire after 48 h). */
export const REPROVIDE_MS = 60 * 60_000
/** Claimants asked at most per lookup (anyone may claim any number). */
export const MAX_CLAIMANTS = 8
const SHA256 = 0x12

/** Who claims a number: a device of an account, proven by the connection and the certificate. */
export interface NumberClaim {
  number: string
  account: string
  device: string
  /** The account's epoch its certificate is of: a new one means its keys changed (a device removed). */
  epoch: number
}

/** The asker's request for the proof that the claimant got the SMS code: `mac` = HMAC(code, ask text). */
export interface ProofRequest {
  number: string
  /** The asker's number (what the code SMS came from). */
  from: string
  mac: string
}

/** A request as the claimant gets it: with the asker's proven account. */
export type ProvenRequest = ProofRequest & { asker: NumberClaim }

/** What a device says of its account to another account: its certificate and its account's epoch chain. */
interface Identity { cert: string, chain: string }

/** A text one account's device carries to another's: its id (the sender's), the two numbers, the body. */
export interface NetworkText { id: string, from: string, to: string, body: string, createdAt: number, attachments?: Attachment[] }
export type ProvenText = NetworkText & { sender: NumberClaim }

/** The user of number `from` read these texts (their senders' ids) from number `to`. */
export interface NetworkReceipt { from: string, to: string, ids: string[] }
export type ProvenReceipt = NetworkReceipt & { sender: NumberClaim }

type Message = ({ t: 'claim', number: string } | ({ t: 'proof' } & ProofRequest & Identity) | ({ t: 'text' } & NetworkText & Identity) | ({ t: 'receipt' } & NetworkReceipt & Identity))

/** The DHT key under which the phones of a number provide: a CID of SHA-256 of the number. */
export function numberCid (number: string): CID {
  const hash = createHash('sha256').update(`companion-number-v1:${number}`).digest()
  return CID.createV1(raw.code, digestOf(SHA256, hash))
}

/** The parts of a libp2p node this uses. */
export interface NumberClaimsComponents {
  peerId: PeerId
  contentRouting: Pick<ContentRouting, 'provide' | 'findProviders'>
  dialProtocol(peer: PeerId, protocol: string, options?: AbortOptions): Promise<Stream>
  handle(protocol: string, handler: (stream: Stream, connection: { remotePeer: PeerId }) => void | Promise<void>, options?: { maxInboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
}

export interface NumberClaimsInit {
  account: AccountStore
  /** This device's number, when it is a phone that publishes it (`--no-discoverable` off). */
  ownNumber(): string | undefined
  /** The numbers this device answers for: its own, and its account's discoverable phones' (so they are found while the phone is off). */
  accountNumbers(): string[]
  /** A text from another account (proven), for one of the account's numbers: stored, or refused (thrown). */
  receive(text: ProvenText): Promise<void>
  /** A read receipt from another account (proven): taken, or refused (thrown). */
  receipt(receipt: ProvenReceipt): Promise<void>
  isMember(device: string): boolean
  /** Answer a proof request for this phone's number: the answer, or why not (thrown). */
  answer(request: ProvenRequest): Promise<string>
  log: Logger
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/**
 * Number claims, with no server: a phone provides its number's key in the DHT (the key is a
 * hash, but phone numbers are few: anyone can test a number, which is why it can be turned
 * off) and answers, on NUMBER_PROTOCOL, which account it is (its certificate and epoch chain,
 * on a connection that proves its device id) and proofs that it got an SMS code.
 */
export class NumberClaims {
  private readonly components: NumberClaimsComponents
  private readonly init: NumberClaimsInit
  private readonly provided = new Set<string>()
  private timer?: ReturnType<typeof setInterval>

  constructor (components: NumberClaimsComponents, init: NumberClaimsInit) {
    this.components = components
    this.init = init
  }

  async start (): Promise<void> {
    await this.components.handle(NUMBER_PROTOCOL, async (stream, connection) => { await this.serve(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 8 })
    this.timer = setInterval(() => { this.provided.clear(); this.publish() }, REPROVIDE_MS)
    this.timer.unref()
    this.publish()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    await this.components.unhandle(NUMBER_PROTOCOL).catch(() => {})
  }

  /** Provide the account's discoverable numbers not provided yet (a phone's appeared, or changed). */
  publish (): void {
    for (const number of this.init.accountNumbers()) {
      if (this.provided.has(number)) continue
      this.provided.add(number)
      void this.components.contentRouting.provide(numberCid(number)).catch((err: Error) => {
        this.provided.delete(number)
        this.init.log('could not provide %s in the DHT (tried again within the hour) - %s', number, err.message)
      })
    }
  }

  /** The accounts other than ours whose devices claim `number`, each checked. */
  async claimants (number: string, signal: AbortSignal): Promise<NumberClaim[]> {
    const claims = new Map<string, NumberClaim>()
    const asked = new Set<string>()
    const asks: Array<Promise<void>> = []
    const providers = this.components.contentRouting.findProviders(numberCid(number), { signal })[Symbol.asyncIterator]()
    // the lookup ends when the signal does, whatever the DHT query is waiting for
    const ended = new Promise<IteratorResult<never>>(resolve => {
      if (signal.aborted) resolve({ done: true, value: undefined })
      signal.addEventListener('abort', () => { resolve({ done: true, value: undefined }) }, { once: true })
    })
    try {
      while (asked.size < MAX_CLAIMANTS) {
        const next = await Promise.race([providers.next(), ended]).catch(() => ({ done: true as const, value: undefined }))
        if (next.done === true) break
        const device = next.value.id.toString()
        if (device === this.components.peerId.toString() || this.init.isMember(device) || asked.has(device)) continue
        asked.add(device)
        // every claimant at once: an offline one holds up no other
        asks.push(this.askClaim(next.value.id, number, signal).then(
          (claim) => { if (claim.account !== this.init.account.id) claims.set(device, claim) },
          (err: Error) => { this.init.log('%s does not show a claim of %s - %s', device, number, err.message) }
        ))
      }
    } finally {
      void providers.return?.()
    }
    await Promise.all(asks)
    return [...claims.values()]
  }

  private async askClaim (peer: PeerId, number: string, signal: AbortSignal): Promise<NumberClaim> {
    const answer = await this.request(peer, { t: 'claim', number }, signal)
    if (answer.number !== number) throw new NumberClaimError('it answered for another number')
    return { number, ...await provenIdentity(answer, peer.toString()) }
  }

  private async receiveText (message: Record<string, unknown>, remote: string): Promise<Record<string, unknown>> {
    if (!isText(message)) throw new NumberClaimError('a malformed text')
    if (!this.init.accountNumbers().includes(message.to as string) && message.to !== this.init.ownNumber()) throw new NumberClaimError('this account does not have that number')
    const sender = { number: message.from as string, ...await provenIdentity(message, remote) }
    const attachments = message.attachments === undefined ? undefined : checkAttachments(message.attachments, (what) => { throw new NumberClaimError(`a malformed text: ${what}`) })
    await this.init.receive({ id: message.id as string, from: message.from as string, to: message.to as string, body: message.body as string, createdAt: message.createdAt as number, sender, ...(attachments == null ? {} : { attachments }) })
    return { stored: true }
  }

  /** Ask the claimant for the proof; its answer (what only the code's receiver can compute). */
  async askProof (claim: NumberClaim, request: ProofRequest, peer: PeerId, signal: AbortSignal): Promise<string> {
    const message: Message = { t: 'proof', ...request, cert: b64(this.init.account.certificate), chain: b64(this.init.account.chainRecord) }
    const answer = await this.request(peer, message, signal)
    if (typeof answer.error === 'string') throw new NumberClaimError(`the claimant says: ${answer.error.slice(0, 200)}`)
    if (typeof answer.answer !== 'string') throw new NumberClaimError('the claimant sent no answer')
    return answer.answer
  }

  /**
   * Carry a text to a device of the recipient's account; resolves once that device stored it
   * (durably). `written` is told when the request left (from then on it may have been stored).
   */
  async deliver (peer: PeerId, text: NetworkText, signal: AbortSignal, written: () => void): Promise<void> {
    const message: Message = { t: 'text', ...text, cert: b64(this.init.account.certificate), chain: b64(this.init.account.chainRecord) }
    const answer = await this.request(peer, message, signal, written)
    if (typeof answer.error === 'string') throw new NumberClaimError(`the recipient's device refused it: ${answer.error.slice(0, 200)}`)
    if (answer.stored !== true) throw new NumberClaimError('the recipient\'s device did not say it stored the text')
  }

  /** Tell a device of the sender's account that these texts were read. */
  async sendReceipt (peer: PeerId, receipt: NetworkReceipt, signal: AbortSignal): Promise<void> {
    const answer = await this.request(peer, { t: 'receipt', ...receipt, cert: b64(this.init.account.certificate), chain: b64(this.init.account.chainRecord) }, signal)
    if (answer.ok !== true) throw new NumberClaimError(`the sender's device did not take the receipt${typeof answer.error === 'string' ? `: ${answer.error.slice(0, 200)}` : ''}`)
  }

  private async request (peer: PeerId, message: Message, signal: AbortSignal, written?: () => void): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(NUMBER_TIMEOUT_MS)])
    const stream = await this.components.dialProtocol(peer, NUMBER_PROTOCOL, { signal: timeout })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_NUMBER_MESSAGE_BYTES })
      await lp.write(new TextEncoder().encode(JSON.stringify(message)), { signal: timeout })
      written?.()
      const answer = parse((await lp.read({ signal: timeout })).subarray())
      await stream.close({ signal: timeout }).catch(() => {})
      return answer
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /** Answer one request on a stream from `remote` (what the protocol handler does; the fuzz target feeds it). */
  async serve (stream: Stream, remote: string): Promise<void> {
    const signal = AbortSignal.timeout(NUMBER_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_NUMBER_MESSAGE_BYTES })
      const request = (await lp.read({ signal })).subarray()
      let answer: Record<string, unknown>
      try {
        answer = await this.respond(parse(request), remote)
      } catch (err) {
        answer = { error: err instanceof NumberClaimError ? err.message : 'this device could not answer' }
        if (!(err instanceof NumberClaimError)) this.init.log.error('answering %s failed - %e', remote, err)
      }
      await lp.write(new TextEncoder().encode(JSON.stringify(answer)), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  private async respond (message: Record<string, unknown>, remote: string): Promise<Record<string, unknown>> {
    if (message.t === 'text') return await this.receiveText(message, remote)
    if (message.t === 'receipt') {
      const { from, to, ids } = message
      if (typeof from !== 'string' || from.length > 40 || typeof to !== 'string' || to.length > 40 || !Array.isArray(ids) || ids.length === 0 || ids.length > 500 || !ids.every(i => typeof i === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(i))) throw new NumberClaimError('a malformed receipt')
      const sender = { number: from, ...await provenIdentity(message, remote) }
      await this.init.receipt({ from, to, ids: ids as string[], sender })
      return { ok: true }
    }
    if (message.t === 'claim') {
      if (typeof message.number !== 'string' || !this.init.accountNumbers().includes(message.number)) throw new NumberClaimError('this account does not claim that number')
      return { number: message.number, cert: b64(this.init.account.certificate), chain: b64(this.init.account.chainRecord) }
    }
    // only the phone itself got the SMS code
    const number = this.init.ownNumber()
    if (number == null || message.number !== number) throw new NumberClaimError('this device does not claim that number')
    if (message.t !== 'proof' || typeof message.from !== 'string' || typeof message.mac !== 'string' || message.mac.length > 128) throw new NumberClaimError('a malformed request')
    const asker = { number: message.from, ...await provenIdentity(message, remote) }
    return { answer: await this.init.answer({ number, from: message.from, mac: message.mac, asker }) }
  }
}

const MAX_TEXT_CHARS = 40_000

function isText (m: Record<string, unknown>): boolean {
  return typeof m.id === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(m.id) && typeof m.from === 'string' && m.from.length <= 40 && typeof m.to === 'string' && m.to.length <= 40 &&
    typeof m.body === 'string' && m.body.length <= MAX_TEXT_CHARS && Number.isSafeInteger(m.createdAt)
}

function parse (bytes: Uint8Array): Record<string, unknown> {
  const value = jsonObject(bytes)
  if (value == null) throw new NumberClaimError('not a JSON object')
  return value
}

/**
 * The account `device` (the connection's proven peer) belongs to: its certificate, signed by
 * the key of its account's current epoch as its epoch chain (complete from the account's own
 * key) says, and not removed by it.
 */
export async function provenIdentity (identity: Record<string, unknown>, device: string): Promise<{ account: string, device: string, epoch: number }> {
  if (typeof identity.cert !== 'string' || typeof identity.chain !== 'string') throw new NumberClaimError('no certificate')
  const cert = await openCertificate(new Uint8Array(Buffer.from(identity.cert, 'base64'))).catch((err: Error) => { throw new NumberClaimError(`a bad certificate: ${err.message}`) })
  const chain = await EpochChain.decode(new Uint8Array(Buffer.from(identity.chain, 'base64'))).catch((err: Error) => { throw new NumberClaimError(`a bad epoch chain: ${err.message}`) })
  if (cert.device !== device) throw new NumberClaimError('a certificate of another device')
  if (chain.account !== cert.account || chain.oldestKnown !== 0) throw new NumberClaimError('an epoch chain of another account, or not back to its own key')
  if (cert.epoch !== chain.epoch || chain.keyOf(cert.epoch) !== cert.signer || chain.removed().has(device)) throw new NumberClaimError('a certificate its account does not vouch for now')
  return { account: cert.account, device, epoch: cert.epoch }
}
