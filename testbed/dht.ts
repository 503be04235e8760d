import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { Libp2pRecord } from '@libp2p/record'
import { accountSecrets, decryptDhtRecord, openDhtRecord, profileKey } from '../node/identity/dht-profile.ts'
import { eventually, type Device } from './device.ts'

/** The account's DHT secrets, read from a member's account file as an attacker with the disk would. */
export async function secretsOf (member: Device): Promise<ReturnType<typeof accountSecrets>> {
  const { key } = JSON.parse(await readFile(join(member.dataDir, 'account.json'), 'utf8')) as { key: string }
  return accountSecrets(privateKeyFromProtobuf(Buffer.from(key, 'base64')))
}

/** `of`'s profile record as `holder` stores it for the DHT (waits for one that `accept` takes), decrypted. */
export async function storedDhtRecord (holder: Pick<Device, 'dataDir' | 'id'>, of: Pick<Device, 'id'>, secrets: ReturnType<typeof accountSecrets>, accept: (plain: ReturnType<typeof decryptDhtRecord>) => boolean = () => true): Promise<{ record: Libp2pRecord, plain: ReturnType<typeof decryptDhtRecord> }> {
  const wanted = Buffer.from(profileKey(secrets, of.id)).toString()
  return await eventually(`${of.id}'s profile record stored on ${holder.id}`, 20_000, async () => {
    const db = new DatabaseSync(join(holder.dataDir, 'node.db'), { readOnly: true })
    try {
      const rows = db.prepare("SELECT key, value FROM kv WHERE key LIKE '/dht/record/%'").all() as Array<{ key: string, value: Uint8Array }>
      const record = rows.map(r => Libp2pRecord.deserialize(r.value)).find(r => Buffer.from(r.key).toString() === wanted)
      if (record == null) return undefined
      const { nonce, ct } = await openDhtRecord(record.key, record.value)
      const plain = decryptDhtRecord(secrets, record.key, nonce, ct)
      return accept(plain) ? { record, plain } : undefined
    } finally {
      db.close()
    }
  })
}
