import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseCrypto } from '../../node/noise-crypto.ts'

const bytes = (x: Uint8Array | { subarray(): Uint8Array }): Buffer => Buffer.from(x instanceof Uint8Array ? x : x.subarray())

describe('noise crypto with kept key objects', () => {
  const nonce = new Uint8Array(12)
  const ad = new Uint8Array(0)

  it('writes exactly what the default crypto writes, small and large, contiguous or in pieces', () => {
    const k = randomBytes(32)
    for (const size of [0, 1, 1199, 1200, 4096, 65_519]) {
      const plaintext = randomBytes(size)
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k))
      assert.deepEqual(ours, bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)), `size ${size}`)
      const pieces = new Uint8ArrayList(plaintext.subarray(0, size >> 1), plaintext.subarray(size >> 1))
      // noise's own copy of uint8arraylist is another version: the same shape, another type
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(pieces as unknown as Uint8Array, nonce, ad, k)), ours)
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, k)), plaintext)
      assert.deepEqual(bytes(defaultCrypto.chaCha20Poly1305Decrypt(Buffer.from(ours), nonce, ad, k)), plaintext)
    }
  })

  it('refuses a tampered message', () => {
    const k = randomBytes(32)
    const sealed = Buffer.from(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(5000), nonce, ad, k) as Uint8Array)
    sealed[100] = (sealed[100] ?? 0) ^ 1
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k))
  })

  it('follows a key array that was refilled with another key', () => {
    const k = randomBytes(32)
    const plaintext = randomBytes(2000)
    noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    k.set(randomBytes(32))
    assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)), bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)))
  })
})
