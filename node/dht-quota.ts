import { Libp2pRecord } from '@libp2p/record'
import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { DatastoreQuota, SqliteDatastore } from './sqlite-datastore.ts'

/**
 * What other peers can make a device store through the DHT, bounded. Strangers can take any
 * number of identities, so the bounds are totals (a per-peer quota would stop none of them):
 * records of other accounts get MAX_FOREIGN_DHT_RECORDS slots, and the account's own records
 * (one per member) the rest; provider records (we use none) a fixed number; everything expires.
 */
export const DHT_RECORD_PREFIX = '/dht/record/'
export const DHT_PROVIDER_PREFIX = '/dht/provider/'
export const MAX_FOREIGN_DHT_RECORDS = 1024
/** Room for the account's own records beyond the foreign ones. */
export const MAX_DHT_RECORDS = MAX_FOREIGN_DHT_RECORDS + 256
export const MAX_DHT_PROVIDERS = 1024
/** A record not put again for this long is deleted (devices republish theirs every hour). */
export const DHT_RECORD_MAX_AGE_MS = 48 * 60 * 60_000
export const DHT_SWEEP_INTERVAL_MS = 60 * 60_000

export const DHT_QUOTAS: DatastoreQuota[] = [
  { prefix: DHT_RECORD_PREFIX, max: MAX_DHT_RECORDS },
  { prefix: DHT_PROVIDER_PREFIX, max: MAX_DHT_PROVIDERS }
]

/** Where kad-dht keeps the record of a DHT key (its `bufferToRecordKey`). */
function recordKey (key: Uint8Array): Key {
  return new Key(`${DHT_RECORD_PREFIX}${uint8ArrayToString(key, 'base32')}`, false)
}

/** May a record of another account be stored under `key`? (An update of one held always may.) */
export function roomForForeignRecord (datastore: SqliteDatastore, key: Uint8Array): boolean {
  return datastore.has(recordKey(key)) || datastore.count(DHT_RECORD_PREFIX) < MAX_FOREIGN_DHT_RECORDS
}

/** Delete records received longer ago than DHT_RECORD_MAX_AGE_MS, and any that do not parse. */
export function sweepDhtRecords (datastore: SqliteDatastore, now = Date.now()): number {
  let removed = 0
  for (const { key, value } of datastore._all({ prefix: DHT_RECORD_PREFIX })) {
    let received: number | undefined
    try {
      received = Libp2pRecord.deserialize(value).timeReceived.getTime()
    } catch {}
    if (received == null || !Number.isFinite(received) || now - received > DHT_RECORD_MAX_AGE_MS) {
      datastore.delete(key)
      removed++
    }
  }
  return removed
}
