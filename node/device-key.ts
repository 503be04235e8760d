import { constants as fsConstants } from 'node:fs'
import { open, readFile, rename, chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { DEVICE_KEY_FILE } from './constants.ts'
import { DeviceKeyError } from './errors.ts'

/**
 * Load the device's Ed25519 key from the data directory, creating it on first start.
 * The key is the device id: losing it makes this a new device to every peer.
 */
export async function loadOrCreateDeviceKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, DEVICE_KEY_FILE)
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (bytes != null) {
    const mode = (await stat(path)).mode & 0o777
    // a key others could read is no longer a secret; tighten rather than refuse
    if ((mode & 0o077) !== 0) await chmod(path, 0o600)
    try {
      const key = privateKeyFromProtobuf(bytes)
      if (key.type !== 'Ed25519') throw new Error(`a ${key.type} key`)
      return key
    } catch (err) {
      throw new DeviceKeyError(`the device key ${path} is unreadable (${(err as Error).message}); move it away to start as a new device`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeSecretFile(path, privateKeyToProtobuf(key))
  return key
}

/** Write a file that only the owner may read, atomically: never a half-written key. */
export async function writeSecretFile (path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
}
