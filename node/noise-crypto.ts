import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import { Uint8ArrayList } from 'uint8arraylist'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'

const CIPHER = 'chacha20-poly1305'
const TAG_BYTES = 16
/** Below this, the default's WebAssembly ChaCha20-Poly1305 is faster than a native cipher object. */
const NATIVE_FROM_BYTES = 1200

interface CachedKey { bytes: Uint8Array, key: KeyObject }
const keys = new WeakMap<Uint8Array, CachedKey>()

/**
 * The key object for a session key. Node turns a raw key into a KeyObject on every
 * createCipheriv call; measured, that was a fifth of a bulk stream's CPU (getKeyObjectSlots,
 * getSlots). A session's key bytes are one array for its life; the copy guards against an
 * array being refilled with another key.
 */
function keyOf (k: Uint8Array): KeyObject {
  const cached = keys.get(k)
  if (cached != null && Buffer.compare(cached.bytes, k) === 0) return cached.key
  const entry = { bytes: Uint8Array.from(k), key: createSecretKey(k) }
  keys.set(k, entry)
  return entry.key
}

/** The pieces of a message (noise passes lists from other copies of uint8arraylist: typed by shape). */
function chunks (data: Uint8Array | Iterable<Uint8Array>): Iterable<Uint8Array> {
  return data instanceof Uint8Array ? [data] : data
}

/** What noise takes back from its crypto: a buffer, or a list of its own copy of uint8arraylist. */
type Message = ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>

/**
 * The non-empty outputs of a cipher as one message, without copying them together (a copy of
 * each 64 KiB message was measured at about 7 % of a bulk stream's CPU). Lists of either major
 * version of uint8arraylist are recognised by the same registered symbol, so ours stands in
 * for noise's own.
 */
function pieces (parts: Buffer[]): Message {
  const full = parts.filter(p => p.byteLength > 0)
  return full.length === 1 ? full[0] as Buffer : new Uint8ArrayList(...full) as unknown as Message
}

/**
 * Noise's default crypto (node:crypto for large messages, WebAssembly for small ones and for
 * hashing and X25519), with ChaCha20-Poly1305 keys made into key objects once per session
 * instead of once per message. Same algorithms, same bytes on the wire.
 */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = createCipheriv(CIPHER, keyOf(k), nonce, { authTagLength: TAG_BYTES })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const parts = [...chunks(plaintext)].map(c => cipher.update(c))
    parts.push(cipher.final(), cipher.getAuthTag())
    return pieces(parts)
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const end = ciphertext.byteLength - TAG_BYTES
    const decipher = createDecipheriv(CIPHER, keyOf(k), nonce, { authTagLength: TAG_BYTES })
    decipher.setAAD(ad, { plaintextLength: end })
    decipher.setAuthTag(ciphertext.subarray(end))
    const body = ciphertext instanceof Uint8Array ? ciphertext.subarray(0, end) : ciphertext.sublist(0, end)
    const parts = [...chunks(body)].map(c => decipher.update(c))
    parts.push(decipher.final())
    return pieces(parts)
  }
}
