import type { Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { BlobPush, NumberClaimError, NumberClaims, type AccountStore, type DeviceNode } from '../node/index.ts'
import { InvalidSmsError, NotCarriedError, UnknownMessageError, type Binding, type Carried, type Receipt, type SmsService } from '../sms/index.ts'
import { NumberVerification } from './number-verification.ts'

/** How long the devices of a number's account are looked for, and each is given to store a text. */
const FIND_MS = 5_000
const DELIVER_MS = 8_000
/** A number nobody proved is not verified again, on sending, sooner than this. */
const REVERIFY_MS = 24 * 60 * 60_000

export interface AccountNumbersInit {
  node: DeviceNode
  account: AccountStore
  /** The SMS service (it exists once the daemon started it). */
  sms(): SmsService
  discoverable: boolean
  log: Logger
}

/** What the SMS side refuses, as the other account is told it (NumberClaimError); anything else stays our own failure. */
async function refusing<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof InvalidSmsError || err instanceof UnknownMessageError) throw new NumberClaimError(err.message)
    throw err
  }
}

/**
 * This account's numbers among companion accounts: the claims (node/number-claims.ts) answered
 * with the SMS service's codes and texts, verification, and carrying texts to the devices of
 * a verified number's account.
 */
export class AccountNumbers {
  readonly claims: NumberClaims
  readonly verification: NumberVerification
  /** The files of texts device to device, pushed before the text. */
  readonly files: BlobPush
  private readonly init: AccountNumbersInit
  private readonly tried = new Map<string, number>()

  constructor (init: AccountNumbersInit) {
    this.init = init
    const { libp2p, book } = init.node
    const sms = init.sms
    this.claims = new NumberClaims({
      peerId: libp2p.peerId,
      contentRouting: libp2p.contentRouting,
      dialProtocol: async (peer, protocol, opts) => await libp2p.dialProtocol(peer, protocol, opts),
      handle: async (protocol, handler, opts) => { await libp2p.handle(protocol, handler, opts) },
      unhandle: async (protocol) => { await libp2p.unhandle(protocol) }
    }, {
      account: init.account,
      ownNumber: () => init.discoverable ? sms().status().number : undefined,
      accountNumbers: () => {
        const own = init.discoverable ? sms().status().number : undefined
        // the account's discoverable phones' numbers: found (and texted) while the phone is off
        const phones = book.members().flatMap(d => d.profile.capabilities.filter(c => c.name === 'sms.receive' && c.sim?.discoverable === true && c.sim.number != null).map(c => c.sim?.number ?? ''))
        return [...new Set([...(own == null ? [] : [own]), ...phones])]
      },
      isMember: (id) => book.relation(id) === 'member',
      answer: async (request) => await refusing(async () => await sms().numberChecks.answer({ number: request.number, from: request.from, mac: request.mac, asker: request.asker.account, askerEpoch: request.asker.epoch, claimant: init.account.id })),
      receive: async (text) => { await refusing(async () => { await sms().receiveNetworkText({ id: text.id, from: text.from, to: text.to, body: text.body, createdAt: text.createdAt, account: text.sender.account, ...(text.attachments == null ? {} : { attachments: text.attachments }) }) }) },
      receipt: async (receipt) => { await refusing(async () => { await sms().receiveReceipt({ from: receipt.from, to: receipt.to, ids: receipt.ids, account: receipt.sender.account }) }) },
      log: init.log
    })
    this.files = new BlobPush({
      dialProtocol: async (peer, protocol, opts) => await libp2p.dialProtocol(peer, protocol, opts),
      handle: async (protocol, handler, opts) => { await libp2p.handle(protocol, handler, opts) },
      unhandle: async (protocol) => { await libp2p.unhandle(protocol) }
    }, {
      account: init.account,
      store: () => sms().blobs,
      admit: async (sender, blob) => { await refusing(async () => { await sms().attachments.admitPush(sender.account, blob) }) },
      log: init.log
    })
    this.verification = new NumberVerification({ claims: this.claims, checks: sms().numberChecks, account: () => init.account.id, log: init.log })
  }

  async start (): Promise<void> {
    await this.claims.start()
    await this.files.start()
  }

  async stop (): Promise<void> {
    await this.files.stop()
    await this.claims.stop()
  }

  /**
   * Carry a text to a device of the number's bound account that claims it; throws
   * NotCarriedError. Devices whose account changed its keys since the number was verified are
   * not given it (a device was removed: perhaps the phone of that number): the number is
   * verified again, and the text goes by SMS meanwhile.
   */
  async carry (text: Carried, binding: Binding, signal: AbortSignal): Promise<void> {
    const claims = (await this.claims.claimants(text.to, AbortSignal.any([signal, AbortSignal.timeout(FIND_MS)])).catch(() => [])).filter(c => c.account === binding.account)
    // a device of an older epoch than another of its account shows was removed since (it may not know yet)
    const newest = Math.max(...claims.map(c => c.epoch))
    const devices = claims.filter(c => c.epoch === newest && (binding.epoch == null || c.epoch <= binding.epoch))
    if (devices.length < claims.length) this.verifyAgain(text.to)
    let left = false
    let refused = 0
    for (const device of devices) {
      let written = false
      try {
        // its files first (each goes on from what that device holds of it), then the text that names them
        for (const file of text.attachments ?? []) await this.files.push(peerIdFromString(device.device), file, signal)
        await this.claims.deliver(peerIdFromString(device.device), text, AbortSignal.any([signal, AbortSignal.timeout(DELIVER_MS)]), () => { written = true })
        return
      } catch (err) {
        // a refusal is an answer: that device surely did not store it
        const refusal = err instanceof NumberClaimError && /refused/.test(err.message)
        if (refusal) refused++
        if (written && !refusal) left = true
        this.init.log('%s did not store text %s - %s', device.device, text.id, (err as Error).message)
      }
    }
    throw new NotCarriedError(claims.length === 0 ? 'no device of that account answered' : devices.length === 0 ? 'that account changed its keys since it was verified' : 'no device of that account stored it', left, devices.length > 0 && refused === devices.length)
  }

  /** Tell a device of the bound account of `receipt.to` that its texts were read. */
  async sendReceipt (receipt: Receipt, binding: Binding, signal: AbortSignal): Promise<void> {
    const devices = (await this.claims.claimants(receipt.to, AbortSignal.any([signal, AbortSignal.timeout(FIND_MS)])).catch(() => [])).filter(c => c.account === binding.account)
    for (const device of devices) {
      try {
        await this.claims.sendReceipt(peerIdFromString(device.device), receipt, AbortSignal.any([signal, AbortSignal.timeout(DELIVER_MS)]))
        return
      } catch (err) {
        this.init.log('%s did not take a receipt - %s', device.device, (err as Error).message)
      }
    }
    throw new NotCarriedError('no device of that account took the receipt', false)
  }

  /** Verify a number again now (its account changed keys), once a day at most. */
  private verifyAgain (number: string): void {
    this.unverified([number])
  }

  /** Texts went by SMS to these numbers: verify, in the background, those someone claims. */
  unverified (numbers: string[]): void {
    const now = Date.now()
    for (const number of numbers) {
      if ((this.tried.get(number) ?? 0) > now - REVERIFY_MS) continue
      this.tried.set(number, now)
      void this.verification.verify(number, () => {}, AbortSignal.timeout(3 * 60_000)).then(
        (bound) => { this.init.log('%s verified: account %s', bound.number, bound.account) },
        (err: Error) => { this.init.log('%s not verified - %s', number, err.message) }
      )
    }
  }
}
