import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { ristretto255, ristretto255_hasher as hasher } from '@noble/curves/ed25519.js'

/**
 * CPace (draft-irtf-cfrg-cpace-13), ristretto255 with SHA-512: a balanced password-
 * authenticated key exchange. Both sides derive the same key only if they used the same
 * password (the pairing code) and the same channel identifier (both device ids, so a device
 * in the middle runs two sessions with different generators and learns nothing); each session
 * lets an attacker test one guess, online, and nothing offline.
 */
const DSI = new TextEncoder().encode('CPaceRistretto255')
const DSI_ISK = new TextEncoder().encode('CPaceRistretto255_ISK')
/** SHA-512's input block size, s_in_bytes in the draft. */
const HASH_BLOCK_BYTES = 128
export const CPACE_SHARE_BYTES = 32

const { Point } = ristretto255
type RistrettoPoint = InstanceType<typeof Point>

export class CpaceError extends Error {
  override name = 'CpaceError'
}

/** The draft's prepend_len: LEB128 length, then the bytes. */
function lv (bytes: Uint8Array): Buffer {
  const len: number[] = []
  let n = bytes.byteLength
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
    n >>>= 7
  } while (n > 0)
  return Buffer.concat([Buffer.from(len), bytes])
}

/** calculate_generator: the password, channel and session hashed onto the group. */
function generator (password: Uint8Array, channel: Uint8Array, sid: Uint8Array): RistrettoPoint {
  const zeroPad = new Uint8Array(Math.max(0, HASH_BLOCK_BYTES - 1 - lv(password).byteLength - lv(DSI).byteLength))
  const genStr = Buffer.concat([lv(DSI), lv(password), lv(zeroPad), lv(channel), lv(sid)])
  const uniform = createHash('sha512').update(genStr).digest()
  const derive = hasher.deriveToCurve
  if (derive == null) throw new CpaceError('this @noble/curves has no ristretto255 element derivation')
  return derive(uniform)
}

function randomScalar (): bigint {
  // 64 random bytes reduced mod the group order: uniform, and never zero in practice
  const wide = BigInt('0x' + randomBytes(64).toString('hex'))
  const s = wide % Point.Fn.ORDER
  return s === 0n ? 1n : s
}

export interface CpaceKeys {
  /** Sent to the other side as the proof that this side holds the session key. */
  ownConfirmation: Uint8Array
  /** Checks the other side's proof (constant time). */
  confirms(theirs: Uint8Array): boolean
  /** A 32-byte key for what the two sides exchange once confirmed. */
  sessionKey: Uint8Array
}

/**
 * One side of a CPace session. `initiator` fixes the transcript order (initiator's share
 * first); both sides must pass the same `channel` and `sid`.
 */
export class CpaceSession {
  private readonly scalar = randomScalar()
  private readonly g: RistrettoPoint
  readonly share: Uint8Array
  private readonly initiator: boolean
  private readonly sid: Uint8Array

  constructor (init: { password: Uint8Array, channel: Uint8Array, sid: Uint8Array, initiator: boolean }) {
    this.g = generator(init.password, init.channel, init.sid)
    this.share = this.g.multiply(this.scalar).toBytes()
    this.initiator = init.initiator
    this.sid = init.sid
  }

  /** Combine with the other side's share; throws on a share that is not a valid group element. */
  finish (theirShare: Uint8Array): CpaceKeys {
    let theirs: RistrettoPoint
    try {
      if (theirShare.byteLength !== CPACE_SHARE_BYTES) throw new Error('wrong length')
      theirs = Point.fromBytes(theirShare)
    } catch {
      throw new CpaceError('the other device sent an invalid key share')
    }
    const k = theirs.multiply(this.scalar)
    if (k.is0()) throw new CpaceError('the other device sent an invalid key share')
    const [first, second] = this.initiator ? [this.share, theirShare] : [theirShare, this.share]
    const isk = createHash('sha512')
      .update(Buffer.concat([lv(DSI_ISK), lv(this.sid), lv(k.toBytes()), lv(first), lv(new Uint8Array()), lv(second), lv(new Uint8Array())]))
      .digest()
    const derive = (info: string): Buffer => Buffer.from(hkdfSync('sha256', isk, new Uint8Array(), info, 32))
    const confirmKey = derive('companion-pair-confirm-v2')
    const tag = (role: string): Buffer => createHmac('sha256', confirmKey).update(role).digest()
    const ownRole = this.initiator ? 'initiator' : 'responder'
    const otherRole = this.initiator ? 'responder' : 'initiator'
    return {
      ownConfirmation: tag(ownRole),
      confirms: (theirs) => {
        const expected = tag(otherRole)
        return theirs.byteLength === expected.byteLength && timingSafeEqual(theirs, expected)
      },
      sessionKey: derive('companion-pair-gift-v2')
    }
  }
}

/** The channel identifier of a pairing: both device ids, joiner first. */
export function pairingChannel (joiner: Uint8Array, member: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from('companion-pair-v2'), lv(joiner), lv(member)])
}
