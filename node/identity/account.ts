import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { writeSecretFile } from '../device-key.ts'
import { ACCOUNT_FILE, REVOCATIONS_FILE } from './constants.ts'
import { InvalidRevocationListError } from './errors.ts'
import { accountIdOf, openCertificate, openRevocations, sealCertificate, sealRevocations, type DeviceCertificate, type RevocationList } from './records.ts'

/** What a device holds of its account. */
interface AccountFile {
  /** The account's private key (libp2p protobuf, base64). Every member holds it, to certify and revoke. */
  key: string
  /** This device's certificate (signed envelope, base64). */
  cert: string
}

/** What a member hands a device that joins (over the encrypted pairing session). */
export interface AccountGift {
  accountKey: Uint8Array
  certificate: Uint8Array
  revocations: Uint8Array
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))

/**
 * The account this device belongs to: its key, this device's certificate, and the account's
 * revocation list. A fresh device is an account of one. Files are 0600 and replaced atomically.
 */
export class AccountStore {
  private readonly dataDir: string
  private readonly deviceId: string
  private accountKey!: PrivateKey
  private cert!: DeviceCertificate
  private certBytes!: Uint8Array
  private list!: RevocationList
  private listBytes!: Uint8Array
  private revokedSet = new Set<string>()

  private constructor (dataDir: string, deviceKey: PrivateKey) {
    this.dataDir = dataDir
    this.deviceId = peerIdFromPrivateKey(deviceKey).toString()
  }

  static async open (dataDir: string, deviceKey: PrivateKey): Promise<AccountStore> {
    const store = new AccountStore(dataDir, deviceKey)
    await store.load()
    return store
  }

  get id (): string {
    // asked for every membership check (per message event): encode once per key
    if (this.idCache?.key !== this.accountKey) this.idCache = { key: this.accountKey, id: accountIdOf(this.accountKey.publicKey) }
    return this.idCache.id
  }

  private idCache?: { key: PrivateKey, id: string }

  get key (): PrivateKey {
    return this.accountKey
  }

  /** This device's id, as its certificate names it. */
  get certificateDevice (): string {
    return this.deviceId
  }

  get certificate (): Uint8Array {
    return this.certBytes
  }

  get revocations (): { list: RevocationList, bytes: Uint8Array } {
    return { list: this.list, bytes: this.listBytes }
  }

  isRevoked (deviceId: string): boolean {
    return this.revokedSet.has(deviceId)
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
    this.accountKey = privateKeyFromProtobuf(unb64(file.key))
    this.certBytes = unb64(file.cert)
    this.cert = await openCertificate(this.certBytes)
    if (this.cert.account !== this.id || this.cert.device !== this.deviceId) throw new Error(`${ACCOUNT_FILE} holds a certificate for another device or account`)
    let listBytes: Uint8Array | undefined
    try {
      listBytes = await readFile(join(this.dataDir, REVOCATIONS_FILE))
    } catch {}
    const list = listBytes == null ? undefined : await openRevocations(listBytes).catch(() => undefined)
    if (listBytes != null && list != null && list.account === this.id) this.setList(list, listBytes)
    else {
      const [empty, bytes] = await this.emptyList()
      await this.saveList(empty, bytes)
    }
  }

  /** A new account: a fresh account key, a certificate for this device, no revocations. */
  async becomeAccountOfOne (): Promise<void> {
    this.accountKey = await generateKeyPair('Ed25519')
    this.certBytes = await this.certify(this.deviceId)
    this.cert = await openCertificate(this.certBytes)
    await this.saveAccount()
    const [list, bytes] = await this.emptyList()
    await this.saveList(list, bytes)
  }

  private async emptyList (): Promise<[RevocationList, Uint8Array]> {
    const list: RevocationList = { v: 1, account: this.id, version: 0, revoked: [] }
    return [list, await sealRevocations(list, this.accountKey)]
  }

  /** A certificate for a device joining this account. */
  async certify (deviceId: string): Promise<Uint8Array> {
    return await sealCertificate({ v: 1, account: this.id, device: deviceId, issuer: this.deviceId, issuedAt: Date.now() }, this.accountKey)
  }

  /** Everything a joining device needs: the account key, its certificate, the revocations. */
  async giftFor (deviceId: string): Promise<AccountGift> {
    return { accountKey: privateKeyToProtobuf(this.accountKey), certificate: await this.certify(deviceId), revocations: this.listBytes }
  }

  /** Join another account: check the gift completely before replacing anything. */
  async adopt (gift: AccountGift): Promise<void> {
    const key = privateKeyFromProtobuf(gift.accountKey)
    if (key.type !== 'Ed25519') throw new Error('the account key is not Ed25519')
    const cert = await openCertificate(gift.certificate)
    const list = await openRevocations(gift.revocations)
    const id = accountIdOf(key.publicKey)
    if (cert.account !== id || cert.device !== this.deviceId) throw new Error('the certificate is not for this device in that account')
    if (list.account !== id) throw new Error('the revocation list is of another account')
    if (list.revoked.some(e => e.device === this.deviceId)) throw new Error('this device was removed from that account; reset its data directory to join again as a new device')
    this.accountKey = key
    this.cert = cert
    this.certBytes = gift.certificate
    await this.saveAccount()
    await this.saveList(list, gift.revocations)
  }

  /**
   * Merge a revocation list from another member: the union of both (a device once removed
   * stays removed). Returns the devices newly revoked here.
   */
  async mergeRevocations (bytes: Uint8Array): Promise<string[]> {
    const theirs = await openRevocations(bytes)
    if (theirs.account !== this.id) throw new InvalidRevocationListError('a revocation list of another account')
    const added = theirs.revoked.filter(e => !this.revokedSet.has(e.device))
    if (added.length === 0) return []
    const mine = new Set(theirs.revoked.map(e => e.device))
    const theyLack = this.list.revoked.some(e => !mine.has(e.device))
    if (!theyLack) {
      await this.saveList(theirs, bytes)
    } else {
      const merged: RevocationList = { v: 1, account: this.id, version: Math.max(this.list.version, theirs.version) + 1, revoked: [...this.list.revoked, ...added] }
      await this.saveList(merged, await sealRevocations(merged, this.accountKey))
    }
    return added.map(e => e.device)
  }

  /** Remove a device from the account, for every member (they learn it by gossip). */
  async revoke (deviceId: string): Promise<void> {
    if (this.revokedSet.has(deviceId)) return
    const list: RevocationList = { v: 1, account: this.id, version: this.list.version + 1, revoked: [...this.list.revoked, { device: deviceId, at: Date.now() }] }
    await this.saveList(list, await sealRevocations(list, this.accountKey))
  }

  private async saveAccount (): Promise<void> {
    const file: AccountFile = { key: b64(privateKeyToProtobuf(this.accountKey)), cert: b64(this.certBytes) }
    await writeSecretFile(join(this.dataDir, ACCOUNT_FILE), new TextEncoder().encode(JSON.stringify(file)))
  }

  private async saveList (list: RevocationList, bytes: Uint8Array): Promise<void> {
    await writeSecretFile(join(this.dataDir, REVOCATIONS_FILE), bytes)
    this.setList(list, bytes)
  }

  private setList (list: RevocationList, bytes: Uint8Array): void {
    this.list = list
    this.listBytes = bytes
    this.revokedSet = new Set(list.revoked.map(e => e.device))
  }
}
