/**
 * Noise's transport cipher alone, as the daemon runs it (node/noise-crypto.ts): the bytes of a
 * pass encrypted and decrypted again in full-size Noise messages, on this thread, with no
 * framing and no network. Beside a raw TCP pass it bounds what any encrypted stream can reach
 * on one thread.
 */
import { randomBytes } from 'node:crypto'
import { noiseCrypto } from '../node/noise-crypto.ts'

/** Largest plaintext of one Noise transport message (65535 bytes with its 16-byte tag). */
const NOISE_MESSAGE_PLAINTEXT = 65535 - 16
const NO_AD = new Uint8Array(0)

/** MiB/s of encrypting and decrypting `total` bytes in Noise messages of `message` (a block the size of a message). */
export function cipherRate (total: number, message: Uint8Array = randomBytes(NOISE_MESSAGE_PLAINTEXT)): number {
  const key = randomBytes(32)
  const nonce = new Uint8Array(12)
  const start = performance.now()
  for (let done = 0, n = 0; done < total; done += message.byteLength, n++) {
    new DataView(nonce.buffer).setUint32(4, n, true)
    // as on a connection: the sealed pieces are decrypted as they are, without joining them
    noiseCrypto.chaCha20Poly1305Decrypt(noiseCrypto.chaCha20Poly1305Encrypt(message, nonce, NO_AD, key), nonce, NO_AD, key)
  }
  return (total / (1024 * 1024)) / ((performance.now() - start) / 1000)
}
