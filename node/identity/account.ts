import { readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { writeSecretFile } from '../device-key.ts'
import { ACCOUNT_FILE, MAX_ACCOUNT_MEMBERS, REVOCATIONS_FILE } from './constants.ts'
import { EpochChain } from './epochs.ts'
import { EpochForkError, InvalidEpochError } from './errors.ts'
import { accountIdOf, openCertificate, openRevocations, sealCertificate, type OpenedCertificate } from './records.ts'

/** What a device holds of its account, in one file replaced atomically (0600). */
interface AccountFile {
  /** The current epoch's private key (libp2p protobuf, base64). Every member holds it, to certify and remove. */
  key: string
  /** This device's certificate (signed envelope, base64), of the current epoch. */
  cert: string
  /** The account id; absent in files of versions before epochs (then it is the key's id). */
  account?: string
  /** The account's epoch chain (§4.1), base64; absent before epochs (then epoch 0). */
  chain?: string
}

/**
 * What a member hands a device that joins (pairing) or that was away while the account moved
 * to a new epoch (an upgrade): the current epoch's key, a certificate of it, the chain.
 */
export interface AccountGift {
  accountKey: Uint8Array
  certificate: Uint8Array
  chain: Uint8Array
}

/** A gift on the wire (pairing encrypts it, an epoch upgrade sends it as is): UTF-8 JSON `{ accountKey, certificate, chain }`, base64. */
export function encodeGift (gift: AccountGift): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ accountKey: b64(gift.accountKey), certificate: b64(gift.certificate), chain: b64(gift.chain) }))
}

/** The gift in `bytes`; anything else is `fail(what)`, thrown. */
export function decodeGift (bytes: Uint8Array, fail: (what: string) => Error): AccountGift {
  let fields: unknown
  try {
    fields = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw fail('the account is not UTF-8 JSON')
  }
  if (typeof fields !== 'object' || fields == null) throw fail('the account is not a JSON object')
  const field = (name: 'accountKey' | 'certificate' | 'chain'): Uint8Array => {
    const value = (fields as Record<string, unknown>)[name]
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw fail(`${name} is not base64`)
    return unb64(value)
  }
  return { accountKey: field('accountKey'), certificate: field('certificate'), chain: field('chain') }
}

/** How another member's chain stands to ours. */
export type ChainVerdict = 'same' | 'behind' | 'ahead' | 'removes-us' | 'unlisted' | 'fork'

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))
const idOf = (key: PrivateKey): string => accountIdOf(key.publicKey)

/**
 * The account this device belongs to: the current epoch's key, this device's certificate,
 * and the chain of epochs (who was removed when). A fresh device is an account of one.
 * Removing a device moves the account to a new epoch whose key only the remaining members
 * get; whatever the old keys sign afterwards is worth nothing for anyone else.
 */
export class AccountStore {
  private readonly dataDir: string
  private readonly deviceId: string
  private accountId!: string
  private epochKey!: PrivateKey
  /** The current epoch key's id: asked for every membership check (per message event), so kept. */
  private epochKeyId!: string
  private cert!: OpenedCertificate
  private certBytes!: Uint8Array
  private chain!: EpochChain
  private chainBytes!: Uint8Array
  /** Removals recorded by versions before epochs (a signed list), still honoured. */
  private legacyRevoked = new Set<string>()
  private removedSet = new Set<string>()

  private constructor (dataDir: string, deviceKey: PrivateKey) {
    this.dataDir = dataDir
    this.deviceId = peerIdFromPrivateKey(deviceKey).toString()
  }

  static async open (dataDir: string, deviceKey: PrivateKey): Promise<AccountStore> {
    const store = new AccountStore(dataDir, deviceKey)
    await store.load()
    return store
  }

  /** The account id: its first key's id, the same in every epoch. */
  get id (): string {
    return this.accountId
  }

  /** The current epoch's key (certificates, the DHT records' secrets). */
  get key (): PrivateKey {
    return this.epochKey
  }

  get epoch (): number {
    return this.chain.epoch
  }

  /** This device's id, as its certificate names it. */
  get certificateDevice (): string {
    return this.deviceId
  }

  get certificate (): Uint8Array {
    return this.certBytes
  }

  /** The chain as shown to members (and to removed devices, so they learn it). */
  get chainRecord (): Uint8Array {
    return this.chainBytes
  }

  isRevoked (deviceId: string): boolean {
    return this.removedSet.has(deviceId)
  }

  /**
   * Every device this account removed, with when (the removing epoch's time; 0 for a removal
   * recorded before epochs existed): what the SMS views need to end what those devices left unsaid.
   */
  removals (): Map<string, number> {
    const at = this.chain.removals()
    for (const device of this.legacyRevoked) if (!at.has(device)) at.set(device, 0)
    return at
  }

  /** A device the account's chain names: listed by its newest epoch, or removed by one (it was ours until then). */
  named (deviceId: string): boolean {
    return this.removedSet.has(deviceId) || (this.chain.newest?.members.includes(deviceId) ?? false)
  }

  /** A member: a certificate of this account and its current epoch, by that epoch's key, of a device not removed. */
  isMemberCert (cert: OpenedCertificate): boolean {
    return cert.account === this.accountId && cert.epoch === this.epoch && cert.signer === this.epochKeyId && !this.isRevoked(cert.device)
  }

  /**
   * A member that was away while the account moved on: a certificate of an older epoch we know
   * the key of, for a device the newest epoch keeps. It gets the new epoch from us.
   */
  awaitsEpoch (cert: OpenedCertificate): boolean {
    return cert.account === this.accountId && cert.epoch < this.epoch && cert.signer === this.chain.keyOf(cert.epoch) &&
      !this.isRevoked(cert.device) && (this.chain.newest?.members.includes(cert.device) ?? false)
  }

  private async load (): Promise<void> {
    let file: AccountFile | undefined
    try {
      file = JSON.parse(await readFile(join(this.dataDir, ACCOUNT_FILE), 'utf8')) as AccountFile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${ACCOUNT_FILE} is damaged (${(err as Error).message})`)
    }
    if (file == null) {
      await this.becomeAccountOfOne()
      return
    }
    try {
      const key = privateKeyFromProtobuf(unb64(file.key))
      const account = file.account ?? idOf(key)
      const chain = file.chain == null ? EpochChain.empty(account) : await EpochChain.decode(unb64(file.chain))
      this.set(key, unb64(file.cert), await openCertificate(unb64(file.cert)), chain)
      this.check(this.cert, this.epochKey, chain)
    } catch (err) {
      // fail closed: a device that cannot tell who was removed does not start
      throw new Error(`${ACCOUNT_FILE} is damaged or not this device's (${(err as Error).message}); the daemon will not guess who belongs to the account`)
    }
    await this.loadLegacyRevocations()
  }

  /** A revocation list written before epochs: honoured; unreadable stops the daemon, like a damaged account. */
  private async loadLegacyRevocations (): Promise<void> {
    let bytes: Uint8Array
    try {
      bytes = await readFile(join(this.dataDir, REVOCATIONS_FILE))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    let list
    try {
      list = await openRevocations(bytes)
    } catch (err) {
      throw new Error(`${REVOCATIONS_FILE} is damaged (${(err as Error).message}); the daemon will not guess which devices were removed`)
    }
    if (list.account === this.accountId) this.legacyRevoked = new Set(list.revoked.map(e => e.device))
    this.updateRemoved()
  }

  /** A certificate, key and chain that belong together, for this device. */
  private check (cert: OpenedCertificate, key: PrivateKey, chain: EpochChain): void {
    if (cert.device !== this.deviceId) throw new InvalidEpochError('the certificate is not for this device')
    if (cert.account !== chain.account) throw new InvalidEpochError('the certificate is of another account than the chain')
    if (cert.epoch !== chain.epoch) throw new InvalidEpochError(`the certificate is of epoch ${cert.epoch}, the account is at ${chain.epoch}`)
    if (chain.keyOf(chain.epoch) !== idOf(key) || cert.signer !== idOf(key)) throw new InvalidEpochError('the key is not the current epoch\'s')
    if (chain.removed().has(this.deviceId)) throw new InvalidEpochError('this device was removed from that account; reset its data directory to join again as a new device')
    // (not: "listed among the epoch's members": those are who the epoch's maker knew; a device
    // that joins later holds a certificate of that epoch and nothing else)
  }

  private set (key: PrivateKey, certBytes: Uint8Array, cert: OpenedCertificate, chain: EpochChain): void {
    this.epochKey = key
    this.epochKeyId = idOf(key)
    this.certBytes = certBytes
    this.cert = cert
    this.chain = chain
    this.chainBytes = chain.encode()
    this.accountId = chain.account
    this.updateRemoved()
  }

  private updateRemoved (): void {
    this.removedSet = new Set([...this.legacyRevoked, ...this.chain.removed()])
  }

  private async save (): Promise<void> {
    const file: AccountFile = { key: b64(privateKeyToProtobuf(this.epochKey)), cert: b64(this.certBytes), account: this.accountId, chain: b64(this.chainBytes) }
    await writeSecretFile(join(this.dataDir, ACCOUNT_FILE), new TextEncoder().encode(JSON.stringify(file)))
  }

  /** A new account: a fresh key, a certificate for this device, no epochs, nobody removed. */
  async becomeAccountOfOne (): Promise<void> {
    const key = await generateKeyPair('Ed25519')
    const chain = EpochChain.empty(idOf(key))
    this.legacyRevoked = new Set()
    await this.take(key, chain)
    await unlink(join(this.dataDir, REVOCATIONS_FILE)).catch(() => {})
  }

  /** Hold `key` of `chain`'s newest epoch, with a certificate for this device signed by it. */
  private async take (key: PrivateKey, chain: EpochChain): Promise<void> {
    const certBytes = await sealCertificate({ v: 1, account: chain.account, device: this.deviceId, issuer: this.deviceId, issuedAt: Date.now(), epoch: chain.epoch }, key)
    this.set(key, certBytes, await openCertificate(certBytes), chain)
    await this.save()
  }

  /** A certificate for a device joining this account, in the current epoch. */
  async certify (deviceId: string): Promise<Uint8Array> {
    return await sealCertificate({ v: 1, account: this.accountId, device: deviceId, issuer: this.deviceId, issuedAt: Date.now(), epoch: this.epoch }, this.epochKey)
  }

  /** Everything a joining device (or one back from away) needs: the key, its certificate, the chain. */
  async giftFor (deviceId: string): Promise<AccountGift> {
    return { accountKey: privateKeyToProtobuf(this.epochKey), certificate: await this.certify(deviceId), chain: this.chainBytes }
  }

  /** Join another account: check the gift completely before replacing anything. */
  async adopt (gift: AccountGift): Promise<void> {
    const { key, cert, chain } = await this.openGift(gift)
    this.legacyRevoked = new Set()
    this.set(key, gift.certificate, cert, chain)
    await this.save()
    await unlink(join(this.dataDir, REVOCATIONS_FILE)).catch(() => {})
  }

  /**
   * Move to the newer epoch a member hands us (we were away when a device was removed): only
   * along our own chain, and only if it keeps us. Returns the devices it removed.
   */
  async upgrade (gift: AccountGift): Promise<string[]> {
    const { key, cert, chain } = await this.openGift(gift)
    // handed the epoch we already hold (over two links at once): nothing to do
    if (this.holds(chain)) return []
    if (!this.chain.continuedBy(chain)) throw new EpochForkError(`that epoch ${chain.epoch} does not follow ours (${this.epoch})`)
    if (chain.newest?.members.includes(this.deviceId) !== true) throw new InvalidEpochError(`epoch ${chain.epoch} was made by a device that did not know this one; pair this device again`)
    const before = new Set(this.removedSet)
    this.set(key, gift.certificate, cert, chain)
    await this.save()
    return [...this.removedSet].filter(d => !before.has(d))
  }

  private async openGift (gift: AccountGift): Promise<{ key: PrivateKey, cert: OpenedCertificate, chain: EpochChain }> {
    const key = privateKeyFromProtobuf(gift.accountKey)
    if (key.type !== 'Ed25519') throw new InvalidEpochError('the account key is not Ed25519')
    const cert = await openCertificate(gift.certificate)
    const chain = await EpochChain.decode(gift.chain)
    this.check(cert, key, chain)
    return { key, cert, chain }
  }

  /**
   * Remove devices: a new epoch with a new key, kept by this device and `known` (the members
   * we know) minus the removed, signed by the current key. Returns the new epoch.
   */
  async rotate (remove: string[], known: string[]): Promise<number> {
    const members = [...new Set([...(this.chain.newest?.members ?? []), ...known, this.deviceId])].filter(d => !remove.includes(d) && !this.isRevoked(d))
    if (members.length > MAX_ACCOUNT_MEMBERS) throw new InvalidEpochError(`an account has at most ${MAX_ACCOUNT_MEMBERS} devices`)
    const key = await generateKeyPair('Ed25519')
    const record = { v: 1 as const, account: this.accountId, epoch: this.epoch + 1, key: idOf(key), members, removed: [...new Set(remove)], by: this.deviceId, at: Date.now() }
    await this.take(key, await this.chain.extend(record, this.epochKey))
    return this.epoch
  }

  /** `chain` ends at the very epoch this device holds (the same record, not another branch). */
  private holds (chain: EpochChain): boolean {
    return chain.epoch === this.epoch && (chain.epoch === 0 || Buffer.from(chain.bytesOf(chain.epoch) ?? []).equals(Buffer.from(this.chain.bytesOf(this.epoch) ?? [])))
  }

  /**
   * How a chain a member of this account shows stands to ours: the same, behind (we hand it
   * the newer epoch), ahead (it hands it to us), ahead but removing us, ahead without listing
   * us (its maker did not know us: we cannot follow, nor are we removed), or another branch of
   * an epoch we hold (refused: first seen wins).
   */
  async compare (bytes: Uint8Array): Promise<{ verdict: ChainVerdict, chain: EpochChain }> {
    const theirs = await EpochChain.decode(bytes)
    if (theirs.account !== this.accountId) throw new InvalidEpochError('an epoch chain of another account')
    if (theirs.epoch === this.epoch) return { verdict: this.holds(theirs) ? 'same' : 'fork', chain: theirs }
    if (theirs.epoch < this.epoch) return { verdict: theirs.continuedBy(this.chain) ? 'behind' : 'fork', chain: theirs }
    if (!this.chain.continuedBy(theirs)) return { verdict: 'fork', chain: theirs }
    if (theirs.removed().has(this.deviceId)) return { verdict: 'removes-us', chain: theirs }
    // not removed, but the device that made the epoch did not know us (we joined through another member meanwhile)
    return { verdict: theirs.newest?.members.includes(this.deviceId) === true ? 'ahead' : 'unlisted', chain: theirs }
  }
}
