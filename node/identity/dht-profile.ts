import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { DHT_KEY_PREFIX, DHT_SIGNATURE_CONTEXT, MAX_DHT_RECORD_BYTES } from './constants.ts'
import { InvalidProfileError, InvalidRecordError, ReplayedRecordError } from './errors.ts'
import type { AccountStore } from './account.ts'
import type { ProfileBook } from './profile-book.ts'
import { keepAddresses } from './device-table.ts'

/**
 * A device's profile in the DHT, readable only by its account:
 *
 *   key   = "/companion/" + hex(HMAC-SHA256(macKey, "profile:" + deviceId))
 *   value = UTF-8 JSON { v: 1, device, seq, nonce, ct, sig }
 *     ct  = AES-256-GCM(encKey, nonce, JSON { cert, profile, addrs })   (base64 fields; addrs: multiaddrs)
 *     sig = Ed25519 by the device over context | key | seq | nonce | ct
 *
 * macKey and encKey come from the account key (HKDF), so only members can find the record
 * of a device or read it. Anyone can check the signature and the sequence number.
 */
export interface DhtProfileRecord {
  v: 1
  device: string
  seq: number
  nonce: string
  ct: string
  sig: string
}

interface AccountSecrets {
  macKey: Buffer
  encKey: Buffer
}

export function accountSecrets (accountKey: PrivateKey): AccountSecrets {
  const okm = Buffer.from(hkdfSync('sha256', accountKey.raw, 'companion', 'companion dht v1', 64))
  return { macKey: okm.subarray(0, 32), encKey: okm.subarray(32, 64) }
}

export function profileKey (secrets: AccountSecrets, deviceId: string): Uint8Array {
  const mac = createHmac('sha256', secrets.macKey).update(`profile:${deviceId}`).digest('hex')
  return new TextEncoder().encode(`/${DHT_KEY_PREFIX}/${mac}`)
}

const PROFILE_KEY = new RegExp(`^/${DHT_KEY_PREFIX}/[0-9a-f]{64}$`)

/** Exactly the shape of the keys we put: `/companion/` and a hex HMAC-SHA256. */
export function isProfileKey (key: Uint8Array): boolean {
  return key.byteLength === DHT_KEY_PREFIX.length + 66 && PROFILE_KEY.test(new TextDecoder().decode(key))
}

function signedBytes (key: Uint8Array, seq: number, nonce: Buffer, ct: Buffer): Uint8Array {
  return Buffer.concat([Buffer.from(DHT_SIGNATURE_CONTEXT), Buffer.from(key), Buffer.from(`|${seq}|`), nonce, ct])
}

export async function sealDhtProfile (secrets: AccountSecrets, deviceKey: PrivateKey, device: string, seq: number, cert: Uint8Array, profile: Uint8Array, addrs: string[] = []): Promise<{ key: Uint8Array, value: Uint8Array }> {
  const key = profileKey(secrets, device)
  const nonce = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', secrets.encKey, nonce)
  cipher.setAAD(key)
  const plain = Buffer.from(JSON.stringify({ cert: Buffer.from(cert).toString('base64'), profile: Buffer.from(profile).toString('base64'), addrs: keepAddresses(addrs) }))
  const ct = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()])
  const sig = await deviceKey.sign(signedBytes(key, seq, nonce, ct))
  const record: DhtProfileRecord = { v: 1, device, seq, nonce: nonce.toString('base64'), ct: ct.toString('base64'), sig: Buffer.from(sig).toString('base64') }
  return { key, value: new TextEncoder().encode(JSON.stringify(record)) }
}

/** Check what anyone can check: shape, size, the device's signature. */
export async function openDhtRecord (key: Uint8Array, value: Uint8Array): Promise<{ record: DhtProfileRecord, nonce: Buffer, ct: Buffer }> {
  if (value.byteLength > MAX_DHT_RECORD_BYTES) throw new InvalidRecordError('DHT record too large')
  let record: DhtProfileRecord
  try {
    record = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value)) as DhtProfileRecord
  } catch {
    throw new InvalidRecordError('DHT record is not UTF-8 JSON')
  }
  if (record == null || typeof record !== 'object' || record.v !== 1 || typeof record.device !== 'string' || !Number.isSafeInteger(record.seq) || record.seq < 0 ||
    typeof record.nonce !== 'string' || typeof record.ct !== 'string' || typeof record.sig !== 'string') {
    throw new InvalidRecordError('malformed DHT record')
  }
  let publicKey
  try {
    publicKey = peerIdFromString(record.device).publicKey
  } catch {
    throw new InvalidRecordError('DHT record names no valid device')
  }
  if (publicKey == null || publicKey.type !== 'Ed25519') throw new InvalidRecordError('DHT record names no Ed25519 device')
  const nonce = Buffer.from(record.nonce, 'base64')
  const ct = Buffer.from(record.ct, 'base64')
  const sig = Buffer.from(record.sig, 'base64')
  if (nonce.byteLength !== 12 || ct.byteLength < 16 || sig.byteLength !== 64) throw new InvalidRecordError('malformed DHT record')
  if (!(await publicKey.verify(signedBytes(key, record.seq, nonce, ct), sig))) throw new InvalidRecordError('bad signature on DHT record')
  return { record, nonce, ct }
}

/** Members only: decrypt a record of our account. Throws if it is not ours or was tampered with. */
export function decryptDhtRecord (secrets: AccountSecrets, key: Uint8Array, nonce: Buffer, ct: Buffer): { cert: Uint8Array, profile: Uint8Array, addrs: string[] } {
  try {
    const decipher = createDecipheriv('aes-256-gcm', secrets.encKey, nonce)
    decipher.setAAD(key)
    decipher.setAuthTag(ct.subarray(ct.byteLength - 16))
    const plain = Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - 16)), decipher.final()])
    const { cert, profile, addrs } = JSON.parse(plain.toString('utf8')) as { cert: string, profile: string, addrs?: unknown }
    return { cert: new Uint8Array(Buffer.from(cert, 'base64')), profile: new Uint8Array(Buffer.from(profile, 'base64')), addrs: Array.isArray(addrs) ? keepAddresses(addrs) : [] }
  } catch {
    throw new InvalidRecordError('DHT record does not decrypt with the account key')
  }
}

/**
 * The DHT validator for `/companion/...` keys. Every node checks the signature; a member of
 * the record's account (the key is one we derive) also decrypts it and checks certificate,
 * account, revocation, and that it is not older than the profile it holds (replay).
 */
export function dhtProfileValidator (init: { account: AccountStore, book: ProfileBook, roomForForeign?(key: Uint8Array): boolean }): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    if (!isProfileKey(key)) throw new InvalidRecordError('not a key of ours: /companion/ and 64 hex digits')
    const { record, nonce, ct } = await openDhtRecord(key, value)
    const secrets = accountSecrets(init.account.key)
    if (!bytesEqual(key, profileKey(secrets, record.device))) {
      // another account's record: all we can check is done; it may take a foreign slot
      if (init.roomForForeign?.(key) === false) throw new InvalidRecordError('no room for more records of other accounts')
      return
    }
    const { cert, profile } = decryptDhtRecord(secrets, key, nonce, ct)
    const checked = await init.book.verify(record.device, cert, profile)
    if (!init.book.isMemberCert(checked.cert)) throw new InvalidProfileError('DHT record of a device that is not (or no longer) a member')
    if (checked.profile.seq !== record.seq) throw new InvalidProfileError('DHT record sequence does not match its profile')
    if (checked.profile.public) throw new InvalidProfileError('a public profile in a member record')
    const held = init.book.get(record.device)
    if (held != null && (checked.profile.seq < held.profile.seq || (checked.profile.seq === held.profile.seq && !bytesEqual(profile, held.profileBytes)))) {
      throw new ReplayedRecordError(`DHT record sequence ${checked.profile.seq} is not newer than ${held.profile.seq}`)
    }
  }
}

/** Of several records under one key, the highest signed sequence number wins. */
export function dhtProfileSelector (_key: Uint8Array, values: Uint8Array[]): number {
  let best = 0
  let bestSeq = -1
  values.forEach((value, i) => {
    try {
      const seq = (JSON.parse(new TextDecoder().decode(value)) as { seq?: unknown }).seq
      if (Number.isSafeInteger(seq) && (seq as number) > bestSeq) {
        best = i
        bestSeq = seq as number
      }
    } catch {}
  })
  return best
}
