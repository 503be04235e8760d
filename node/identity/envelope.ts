import { RecordEnvelope } from '@libp2p/peer-record'
import type { PrivateKey, PublicKey, Record as Libp2pRecord } from '@libp2p/interface'
import { equals as bytesEqual } from 'uint8arrays/equals'
import { InvalidRecordError } from './errors.ts'

/** A JSON payload in a libp2p signed envelope: the signature covers the exact payload bytes. */
class JsonRecord implements Libp2pRecord {
  readonly domain: string
  readonly codec: Uint8Array
  private readonly bytes: Uint8Array

  constructor (domain: string, codec: Uint8Array, bytes: Uint8Array) {
    this.domain = domain
    this.codec = codec
    this.bytes = bytes
  }

  marshal (): Uint8Array {
    return this.bytes
  }

  equals (other: Libp2pRecord): boolean {
    return other instanceof JsonRecord && bytesEqual(this.marshal(), other.marshal())
  }
}

export interface EnvelopeKind {
  domain: string
  codec: Uint8Array
  maxBytes: number
  /** Error class for everything wrong with this kind of record. */
  Error: new (message: string) => InvalidRecordError
}

export async function sealJson (kind: EnvelopeKind, value: unknown, key: PrivateKey): Promise<Uint8Array> {
  const record = new JsonRecord(kind.domain, kind.codec, new TextEncoder().encode(JSON.stringify(value)))
  const bytes = (await RecordEnvelope.seal(record, key)).marshal()
  if (bytes.byteLength > kind.maxBytes) throw new kind.Error(`record of ${bytes.byteLength} bytes is over the limit of ${kind.maxBytes}`)
  return bytes
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Open an envelope: size, protobuf, signature in our domain, our payload type (openAndCertify
 * does not check that), then a JSON object. Returns the payload and who signed it.
 */
export async function openJson (kind: EnvelopeKind, bytes: Uint8Array): Promise<{ value: Record<string, unknown>, signer: PublicKey }> {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) throw new kind.Error('empty record')
  if (bytes.byteLength > kind.maxBytes) throw new kind.Error(`record of ${bytes.byteLength} bytes is over the limit of ${kind.maxBytes}`)
  let envelope: RecordEnvelope
  try {
    envelope = await RecordEnvelope.openAndCertify(bytes, kind.domain)
  } catch (err) {
    throw new kind.Error(`bad envelope or signature (${(err as Error).message})`)
  }
  if (!bytesEqual(envelope.payloadType, kind.codec)) throw new kind.Error('wrong payload type')
  if (envelope.publicKey.type !== 'Ed25519') throw new kind.Error(`signed with a ${envelope.publicKey.type} key, not Ed25519`)
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(envelope.payload))
  } catch {
    throw new kind.Error('payload is not UTF-8 JSON')
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new kind.Error('payload is not an object')
  return { value: value as Record<string, unknown>, signer: envelope.publicKey }
}
