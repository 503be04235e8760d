import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { validateDeviceKind, validateDeviceName } from '../device-names.ts'
import type { DeviceKind } from '../constants.ts'
import {
  CAPABILITIES, MAX_DENIED, CERT_CODEC, CERT_DOMAIN, MAX_CAPABILITIES, MAX_CERT_BYTES, MAX_PROFILE_BYTES, MAX_REVOCATION_BYTES,
  MAX_REVOKED_DEVICES, PROFILE_CODEC, PROFILE_DOMAIN, REVOCATION_CODEC, REVOCATION_DOMAIN
} from './constants.ts'
import { InvalidCertificateError, InvalidProfileError, InvalidRevocationListError } from './errors.ts'
import { openJson, sealJson, type EnvelopeKind } from './envelope.ts'

/** The account vouches that a device is one of its own. Signed by the key of an account epoch. */
export interface DeviceCertificate {
  v: 1
  /** Account id: the PeerId string of the account's first (epoch 0) public key; it never changes. */
  account: string
  device: string
  /** Device that issued it (any member can, holding the epoch's key). */
  issuer: string
  issuedAt: number
  /** The account epoch whose key signed it (0: the account's first key, absent on the wire). */
  epoch: number
}

/** A certificate as opened: what it says, and the id of the key that signed it. */
export type OpenedCertificate = DeviceCertificate & { signer: string }

export interface SimFacts {
  number?: string
  /** Other companion accounts may find this number and text it device to device (`--no-discoverable` off). */
  discoverable?: boolean
  carrier?: string
  country?: string
  roaming?: boolean
  /** 0–4 bars. */
  signal?: number
}

export interface Capability {
  /** `sms.send`, `sms.receive`, `tunnel`, `channels`, or `channel:<name>` for an app channel. */
  name: string
  sim?: SimFacts
  /** Members this device refuses the capability (its master list), so they look elsewhere. */
  denied?: string[]
}

export interface PowerFacts {
  /** Battery level 0–100. */
  battery?: number
  charging?: boolean
  mains?: boolean
}

/**
 * What a device says it is and can do. Signed by the device key. `public` profiles (sent to
 * devices outside the account) carry only name and kind.
 */
export interface DeviceProfile {
  v: 1
  device: string
  account: string
  name: string
  kind: DeviceKind
  public: boolean
  capabilities: Capability[]
  power?: PowerFacts
  seq: number
  time: number
}

/** Devices the account has removed. Grow-only; signed by the account key. */
export interface RevocationList {
  v: 1
  account: string
  version: number
  revoked: Array<{ device: string, at: number }>
}

export const CERT_KIND: EnvelopeKind = { domain: CERT_DOMAIN, codec: CERT_CODEC, maxBytes: MAX_CERT_BYTES, Error: InvalidCertificateError }
export const PROFILE_KIND: EnvelopeKind = { domain: PROFILE_DOMAIN, codec: PROFILE_CODEC, maxBytes: MAX_PROFILE_BYTES, Error: InvalidProfileError }
export const REVOCATION_KIND: EnvelopeKind = { domain: REVOCATION_DOMAIN, codec: REVOCATION_CODEC, maxBytes: MAX_REVOCATION_BYTES, Error: InvalidRevocationListError }

export function accountIdOf (key: PublicKey): string {
  return peerIdFromPublicKey(key).toString()
}

export function isDeviceId (value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 128) return false
  try {
    return peerIdFromString(value).type === 'Ed25519'
  } catch {
    return false
  }
}

export const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isSeq = isTime

// ---- certificates

export async function sealCertificate (cert: Omit<DeviceCertificate, 'epoch'> & { epoch?: number }, epochKey: PrivateKey): Promise<Uint8Array> {
  const { v, account, device, issuer, issuedAt, epoch } = cert
  return await sealJson(CERT_KIND, { v, account, device, issuer, issuedAt, ...(epoch == null || epoch === 0 ? {} : { epoch }) }, epochKey)
}

/**
 * A certificate that is well-formed and signed. One of epoch 0 must be signed by the account
 * key it names; a later epoch's key is known only to the account's members (from its epoch
 * records), so whether it is the right one is the caller's question, as membership is.
 */
export async function openCertificate (bytes: Uint8Array): Promise<OpenedCertificate> {
  const { value, signer } = await openJson(CERT_KIND, bytes)
  const { v, account, device, issuer, issuedAt } = value
  const epoch = value.epoch ?? 0
  if (v !== 1) throw new InvalidCertificateError(`unknown certificate version ${String(v)}`)
  if (!isDeviceId(account) || !isDeviceId(device) || !isDeviceId(issuer)) throw new InvalidCertificateError('malformed ids')
  if (!isTime(issuedAt)) throw new InvalidCertificateError('malformed time')
  if (!isSeq(epoch)) throw new InvalidCertificateError('malformed epoch')
  const signerId = accountIdOf(signer)
  if (epoch === 0 && signerId !== account) throw new InvalidCertificateError('not signed by the account it names')
  return { v, account, device, issuer, issuedAt, epoch, signer: signerId }
}

// ---- profiles

function checkSim (sim: unknown): SimFacts | undefined {
  if (sim === undefined) return undefined
  if (sim == null || typeof sim !== 'object' || Array.isArray(sim)) throw new InvalidProfileError('malformed SIM facts')
  const { number, carrier, country, roaming, signal } = sim as Record<string, unknown>
  const str = (s: unknown, max: number): boolean => s === undefined || (typeof s === 'string' && s.length <= max)
  if (!str(number, 32) || !str(carrier, 64) || !str(country, 2)) throw new InvalidProfileError('malformed SIM facts')
  if (roaming !== undefined && typeof roaming !== 'boolean') throw new InvalidProfileError('malformed SIM facts')
  if ((sim as Record<string, unknown>).discoverable !== undefined && typeof (sim as Record<string, unknown>).discoverable !== 'boolean') throw new InvalidProfileError('malformed SIM facts')
  if (signal !== undefined && !(Number.isInteger(signal) && (signal as number) >= 0 && (signal as number) <= 4)) throw new InvalidProfileError('malformed SIM signal')
  return sim as SimFacts
}

function checkDenied (denied: unknown): string[] | undefined {
  if (denied === undefined) return undefined
  if (!Array.isArray(denied) || denied.length > MAX_DENIED || !denied.every(d => typeof d === 'string' && /^[1-9A-HJ-NP-Za-km-z]{40,64}$/.test(d))) throw new InvalidProfileError('malformed denied devices')
  return denied as string[]
}

function checkCapabilities (caps: unknown): Capability[] {
  if (!Array.isArray(caps) || caps.length > MAX_CAPABILITIES) throw new InvalidProfileError('malformed capabilities')
  return caps.map((c: unknown) => {
    if (c == null || typeof c !== 'object') throw new InvalidProfileError('malformed capability')
    const { name, sim } = c as Record<string, unknown>
    const known = (CAPABILITIES as readonly string[]).includes(name as string)
    const channel = typeof name === 'string' && /^channel:[a-z0-9][a-z0-9._-]{0,63}$/.test(name)
    if (!known && !channel) throw new InvalidProfileError(`unknown capability ${String(name).slice(0, 40)}`)
    const checked = checkSim(sim)
    const denied = checkDenied((c as Record<string, unknown>).denied)
    return { name: name as string, ...(checked == null ? {} : { sim: checked }), ...(denied == null ? {} : { denied }) }
  })
}

function checkPower (power: unknown): PowerFacts | undefined {
  if (power === undefined) return undefined
  if (power == null || typeof power !== 'object' || Array.isArray(power)) throw new InvalidProfileError('malformed power facts')
  const { battery, charging, mains } = power as Record<string, unknown>
  if (battery !== undefined && !(Number.isInteger(battery) && (battery as number) >= 0 && (battery as number) <= 100)) throw new InvalidProfileError('malformed battery level')
  if ((charging !== undefined && typeof charging !== 'boolean') || (mains !== undefined && typeof mains !== 'boolean')) throw new InvalidProfileError('malformed power facts')
  return power as PowerFacts
}

export async function sealProfile (profile: DeviceProfile, deviceKey: PrivateKey): Promise<Uint8Array> {
  return await sealJson(PROFILE_KIND, profile, deviceKey)
}

/** A profile that is well-formed and signed by the device it describes. */
export async function openProfile (bytes: Uint8Array): Promise<DeviceProfile> {
  const { value, signer } = await openJson(PROFILE_KIND, bytes)
  const { v, device, account, name, kind, capabilities, power, seq, time } = value
  if (v !== 1) throw new InvalidProfileError(`unknown profile version ${String(v)}`)
  if (!isDeviceId(device) || !isDeviceId(account)) throw new InvalidProfileError('malformed ids')
  if (peerIdFromPublicKey(signer).toString() !== device) throw new InvalidProfileError('not signed by the device it describes')
  if (!isSeq(seq) || !isTime(time)) throw new InvalidProfileError('malformed sequence number or time')
  if (typeof value.public !== 'boolean') throw new InvalidProfileError('malformed public flag')
  let checkedName: string
  let checkedKind: DeviceKind
  try {
    checkedName = validateDeviceName(name)
    checkedKind = validateDeviceKind(kind)
  } catch (err) {
    throw new InvalidProfileError((err as Error).message)
  }
  const caps = checkCapabilities(capabilities)
  if (value.public && (caps.length > 0 || power !== undefined)) throw new InvalidProfileError('a public profile carries no capabilities')
  const checkedPower = checkPower(power)
  return { v, device, account, name: checkedName, kind: checkedKind, public: value.public, capabilities: caps, ...(checkedPower == null ? {} : { power: checkedPower }), seq, time }
}

// ---- revocation lists (kept only to read what versions before account epochs stored)

export async function sealRevocations (list: RevocationList, accountKey: PrivateKey): Promise<Uint8Array> {
  return await sealJson(REVOCATION_KIND, list, accountKey)
}

export async function openRevocations (bytes: Uint8Array): Promise<RevocationList> {
  const { value, signer } = await openJson(REVOCATION_KIND, bytes)
  const { v, account, version, revoked } = value
  if (v !== 1) throw new InvalidRevocationListError(`unknown revocation list version ${String(v)}`)
  if (!isDeviceId(account) || accountIdOf(signer) !== account) throw new InvalidRevocationListError('not signed by the account it names')
  if (!isSeq(version)) throw new InvalidRevocationListError('malformed version')
  if (!Array.isArray(revoked) || revoked.length > MAX_REVOKED_DEVICES) throw new InvalidRevocationListError('malformed list')
  const entries = revoked.map((e: unknown) => {
    const { device, at } = (e ?? {}) as Record<string, unknown>
    if (!isDeviceId(device) || !isTime(at)) throw new InvalidRevocationListError('malformed entry')
    return { device, at }
  })
  return { v, account, version, revoked: entries }
}
