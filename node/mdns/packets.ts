import { decode, encode, type Packet, type StringAnswer, type TxtAnswer } from 'dns-packet'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { ipOf } from '../../link/index.ts'
import { isLinkLocalV6 } from '../address-policy.ts'

/**
 * mDNS packets as libp2p's mDNS discovery spec writes them: a PTR question for the service
 * tag; an answer of a PTR (`<name>.<tag>`) and one TXT record `dnsaddr=<multiaddr>/p2p/<id>`
 * per address. Pure functions: the bytes in, what they say out (docs/PROTOCOL.md §2).
 */

export const MDNS_PORT = 5353
export const MDNS_IPV4_GROUP = '224.0.0.251'
export const MDNS_IPV6_GROUP = 'ff02::fb'
/** A TXT string is at most 255 bytes (RFC 6763 §6.1). */
export const TXT_MAX_BYTES = 255
/**
 * An answer fits one Ethernet frame (no fragments, which some Wi-Fi drops): with 1,500 bytes
 * of MTU less IPv6 and UDP headers, 1,400 is safe.
 */
export const ANSWER_MAX_BYTES = 1_400
/** Larger packets are not ours (an answer of ours is at most ANSWER_MAX_BYTES): not decoded. */
export const PACKET_MAX_BYTES = 9_000
/** Addresses taken from one answer: a stranger cannot fill the peer store through mDNS. */
export const ANSWER_MAX_ADDRS = 16
const TTL_S = 120
const DNSADDR = 'dnsaddr='

/** What an answer says: which device, at which addresses. */
export interface Sighting { id: PeerId, multiaddrs: Multiaddr[] }

export function queryPacket (tag: string): Buffer {
  return encode({ type: 'query', id: 0, flags: 0, questions: [{ name: tag, type: 'PTR', class: 'IN' }] })
}

/**
 * Our answer: the device's addresses (without /p2p), as many as fit in one frame, in the
 * order given (the caller puts the best first).
 */
export function answerPacket (tag: string, name: string, id: PeerId, addrs: Multiaddr[]): Buffer {
  const instance = `${name}.${tag}`
  const ptr: StringAnswer = { name: tag, type: 'PTR', class: 'IN', ttl: TTL_S, data: instance }
  const txts: TxtAnswer[] = []
  let packet = encode({ type: 'response', id: 0, flags: 0x400, answers: [ptr] })
  for (const ma of addrs) {
    const data = `${DNSADDR}${ma.toString()}/p2p/${id.toString()}`
    if (Buffer.byteLength(data) > TXT_MAX_BYTES) continue
    const next = encode({ type: 'response', id: 0, flags: 0x400, answers: [ptr, ...txts, { name: instance, type: 'TXT', class: 'IN', ttl: TTL_S, data }] })
    if (next.length > ANSWER_MAX_BYTES) break
    txts.push({ name: instance, type: 'TXT', class: 'IN', ttl: TTL_S, data })
    packet = next
  }
  return packet
}

function decodeSmall (bytes: Uint8Array): Packet | undefined {
  if (bytes.length > PACKET_MAX_BYTES) return undefined
  try {
    return decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  } catch {
    return undefined
  }
}

/** A question for our service. */
export const QUESTION = 'question'

/** What a packet says, decoded once: a question for our service, who answered and where, or nothing of ours. */
export function readPacket (bytes: Uint8Array, tag: string, ownName: string, receivedOn?: string): typeof QUESTION | Sighting | undefined {
  const packet = decodeSmall(bytes)
  if (packet?.type === 'query') return (packet.questions ?? []).some(q => q.name === tag && (q.type === 'PTR' || (q.type as string) === 'ANY')) ? QUESTION : undefined
  return packet?.type === 'response' ? sightingIn(packet, tag, ownName, receivedOn) : undefined
}

/** Is this packet a question for our service? */
export function asksFor (bytes: Uint8Array, tag: string): boolean {
  return readPacket(bytes, tag, '') === QUESTION
}

/**
 * Our own zone for an address heard on `receivedOn`: a link-local address gets the interface
 * it came in on (whatever zone the sender wrote is the sender's interface, not ours); heard
 * without one (IPv4), it cannot be dialled and is dropped.
 */
function localise (ma: Multiaddr, receivedOn: string | undefined): Multiaddr | undefined {
  const addr = ipOf(ma)
  if (addr == null) return undefined
  const rest = ma.getComponents().slice(addr.zone == null ? 1 : 2)
  if (rest[0]?.name !== 'tcp' || rest.length !== 1) return undefined
  if (addr.family === 4 || !isLinkLocalV6(addr.ip)) return addr.zone == null ? ma : multiaddr(`/ip6/${addr.ip}/tcp/${rest[0].value ?? ''}`)
  if (receivedOn == null) return undefined
  return multiaddr(`/ip6zone/${receivedOn}/ip6/${addr.ip}/tcp/${rest[0].value ?? ''}`)
}

/**
 * Who answered, and where: the TCP addresses of one device (at most ANSWER_MAX_ADDRS, all
 * naming the same id), or undefined for anything else (our own answer, another service,
 * garbage). `receivedOn` is the interface an IPv6 answer came in on.
 */
export function readAnswer (bytes: Uint8Array, tag: string, ownName: string, receivedOn?: string): Sighting | undefined {
  const read = readPacket(bytes, tag, ownName, receivedOn)
  return read === QUESTION ? undefined : read
}

function sightingIn (packet: Packet, tag: string, ownName: string, receivedOn: string | undefined): Sighting | undefined {
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])]
  const ptr = records.find((r): r is StringAnswer => r.type === 'PTR' && r.name === tag)
  if (ptr == null || typeof ptr.data !== 'string' || ptr.data.startsWith(`${ownName}.`)) return undefined
  let id: PeerId | undefined
  const multiaddrs: Multiaddr[] = []
  for (const record of records) {
    if (record.type !== 'TXT' || record.name !== ptr.data) continue
    for (const chunk of ([] as Array<string | Uint8Array>).concat(record.data)) {
      const text = Buffer.from(chunk).toString()
      if (!text.startsWith(DNSADDR) || multiaddrs.length >= ANSWER_MAX_ADDRS) continue
      try {
        const full = multiaddr(text.slice(DNSADDR.length))
        const named = full.getComponents().findLast(c => c.name === 'p2p')?.value
        if (named == null) continue
        id ??= peerIdFromString(named)
        if (named !== id.toString()) continue
        const local = localise(full.decapsulateCode(421), receivedOn)
        if (local != null) multiaddrs.push(local)
      } catch {
        // one unreadable address does not spoil the others
      }
    }
  }
  return id == null || multiaddrs.length === 0 ? undefined : { id, multiaddrs }
}
