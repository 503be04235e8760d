/**
 * Fuzz targets: each feeds `inputs` mutated valid inputs (and some random bytes) through a
 * part of the product that meets bytes from outside, and throws a FuzzFinding when an error
 * escapes that the part should have turned into a clear refusal, or an accepted input does
 * not come out as it went in.
 */
import { connect, type Socket } from 'node:net'
import { Carrier } from '../../carrier/server.ts'
import { EventSigner, readEnvelope, type EventPayload } from '../../sms/signed-events.ts'
import { SyncProtocolError } from '../../sms/errors.ts'
import { encodeJsonFrame, readJsonFrames } from '../../sms/json-frames.ts'
import { decodePdu, encodeSubmit, hexToBytes, InvalidPduError } from '../../sms/codec/pdu.ts'
import { Reassembler } from '../../sms/codec/reassembly.ts'
import { SmsProxy } from '../../sms/proxy.ts'
import { SimBackend } from '../../sms/backends/sim.ts'
import type { IncomingEntry } from '../../sms/store.ts'
import { fromWire, toWire } from '../../sms/sync-wire.ts'
import { logger } from '@libp2p/logger'
import { pick, randomEvent, randomText } from '../../testbed/sms-events.ts'
import { smsDevice, throughWire, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { mutateBytes, mutateJson } from './mutate.ts'

type Random = () => number

export interface FuzzStats {
  inputs: number
  /** Taken in (stored, parsed, answered). */
  accepted: number
  /** Refused with the part's own clear error. */
  refused: number
}

export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding'
}

export interface FuzzTarget {
  name: string
  run(random: Random, inputs: number, dir: string): Promise<FuzzStats>
}

const latin = new TextDecoder('utf-8')
let runs = 0
/** Files of one run of a target (a target runs more than once in a directory). */
const fresh = (name: string): string => `${name}-${runs++}`
const encoder = new TextEncoder()

async function * chunks (bytes: Uint8Array, random: Random): AsyncGenerator<Uint8Array> {
  let at = 0
  while (at < bytes.length) {
    const n = 1 + Math.floor(random() * 4096)
    yield bytes.subarray(at, at + n)
    at += n
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array | undefined): boolean {
  return b != null && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
}

/** The entry `from` holds at `origin`/`seq`, as it sends it on to `to`; `entries` when it sends nothing. */
async function relay (entries: IncomingEntry[], from: TestSmsDevice, to: TestSmsDevice, origin: string, seq: number): Promise<IncomingEntry[]> {
  const out = await throughWire(from.store.entriesAfter(origin, seq - 1, 1), to.id)
  return out.length > 0 ? out : entries
}

/** `checkPayload` and `SmsStore.ingest`: signed payloads, mutated before signing (so the rules see them) or after. */
export const events: FuzzTarget = {
  name: 'events',
  async run (random, inputs, dir) {
    const writer = await smsDevice(dir, fresh('writer'))
    const peer = await smsDevice(dir, fresh('peer'), d => d === writer.id)
    const third = await smsDevice(dir, fresh('third'), d => d === writer.id)
    const signer = new EventSigner(writer.key)
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    try {
      for (let i = 0; i < inputs; i++) {
        const { event, audience } = randomEvent(random, writer.id, [writer.id, peer.id])
        let payload: unknown = { origin: writer.id, seq: i + 1, event, ...(audience == null ? {} : { audience }) }
        const how = random()
        if (how < 0.6) payload = mutateJson(random, payload)
        const sealed = signer.seal(payload as EventPayload)
        let text = sealed.payload
        if (how > 0.9) text = latin.decode(mutateBytes(random, encoder.encode(text)))
        const entry: IncomingEntry = { signed: { payload: text, sig: sealed.sig, ...(sealed.stub == null ? {} : { stub: sealed.stub }) } }
        let stored: number
        try {
          stored = await peer.store.ingest([entry], () => true)
        } catch (err) {
          if (!(err instanceof SyncProtocolError)) throw new FuzzFinding(`input ${i}: ingest threw ${(err as Error).name}: ${(err as Error).message}`)
          stats.refused++
          continue
        }
        if (stored === 0) continue
        stats.accepted++
        const { origin, seq } = readEnvelope(text)
        const [kept] = peer.store.entriesAfter(origin, seq - 1, 1)
        if (kept == null || kept.kind === 'placeholder' || kept.signed.payload !== text || !equalBytes(kept.signed.sig, sealed.sig)) throw new FuzzFinding(`input ${i}: the stored entry is not the one received`)
        // and it travels on: the third device takes it as the peer did
        const passed = await third.store.ingest(await relay([entry], peer, third, origin, seq), () => true)
        const [again] = third.store.entriesAfter(origin, seq - 1, 1)
        const expected = kept.kind === 'event' && kept.payload.audience != null && !kept.payload.audience.includes(third.id) ? 'placeholder' : kept.kind
        if (passed !== 1 || again?.kind !== expected) throw new FuzzFinding(`input ${i}: an entry the peer kept as ${kept.kind} (${expected} expected) came to the next device as ${again?.kind ?? 'nothing'}`)
      }
    } finally {
      for (const d of [writer, peer, third]) d.store.close()
    }
    return stats
  }
}

/** sms-sync frames: a byte stream of framed entries, mutated and cut anywhere, read and stored as the subscriber does. */
export const frames: FuzzTarget = {
  name: 'frames',
  async run (random, inputs, dir) {
    const writer = await smsDevice(dir, fresh('frames-writer'))
    const peer = await smsDevice(dir, fresh('frames-peer'))
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    try {
      for (let i = 0; i < 200; i++) {
        const { event, audience } = randomEvent(random, writer.id, [writer.id, peer.id])
        await writer.store.write(tx => { tx.append(event, audience) }).catch(() => {})
      }
      const corpus = writer.store.entriesAfter(writer.id, 0, 1000).flatMap(e => { const w = toWire(e, pick(random, [peer.id, 'Q' + 'x'.repeat(51)])); return w == null ? [] : [encodeJsonFrame(w)] })
      for (let i = 0; i < inputs; i++) {
        const picked = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(random, corpus))
        const r = random()
        const whole = Buffer.concat(picked)
        const bytes = r < 0.05 ? Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)) : r < 0.35 ? whole : mutateBytes(random, whole, pick(random, corpus))
        try {
          for await (const batch of readJsonFrames(chunks(bytes, random))) {
            await peer.store.ingest(batch.flatMap(v => fromWire(v) ?? []), () => true)
          }
          stats.accepted++
        } catch (err) {
          if (!(err instanceof SyncProtocolError)) throw new FuzzFinding(`input ${i}: a frame stream threw ${(err as Error).name}: ${(err as Error).message}`)
          stats.refused++
        }
      }
    } finally {
      writer.store.close()
      peer.store.close()
    }
    return stats
  }
}

/** SMS-DELIVER PDUs for `text` from `from`, made from our SUBMIT encoder (same user data). */
function deliverPdus (to: string, text: string, ref: number): string[] {
  return encodeSubmit(to, text, { concatRef: ref }).map(({ hex }) => {
    const b = hexToBytes(hex)
    let at = 1 + (b[0] ?? 0)
    const first = b[at++] ?? 0
    at++ // TP-MR
    const daLength = b[at] ?? 0
    const address = b.subarray(at, at + 2 + Math.ceil(daLength / 2))
    at += address.length
    const pid = b[at++] ?? 0
    const dcs = b[at++] ?? 0
    const vpf = (first >> 3) & 0x03
    at += vpf === 2 ? 1 : vpf === 0 ? 0 : 7
    const deliver = Buffer.concat([Buffer.from([0, (first & 0x40) | 0x04]), address, Buffer.from([pid, dcs]), Buffer.from('62101291000000', 'hex'), b.subarray(at)])
    return deliver.toString('hex').toUpperCase()
  })
}

/** `decodePdu` → reassembly → the proxy's incoming path into the store, as a modem's PDUs take it. */
export const pdu: FuzzTarget = {
  name: 'pdu',
  async run (random, inputs, dir) {
    const phone = await smsDevice(dir, fresh('pdu-phone'))
    const backend = new SimBackend('sim://127.0.0.1:9/+15550100002', { incoming: async () => {}, report: async () => {}, stored: async () => {}, changed: () => {} })
    const proxy = new SmsProxy({ store: phone.store, backend, maySend: () => true, receivers: () => undefined, policy: () => ({ rate: 30, deny: [], allow: [] }), log: logger('fuzz:pdu') })
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const failures: string[] = []
    const waiting: Array<Promise<void>> = []
    const reassembler = new Reassembler((m) => { waiting.push(proxy.incoming({ from: m.from, body: m.text, at: m.timestamp }).catch(err => { failures.push(`${(err as Error).name}: ${(err as Error).message}`) })) }, { timeoutMs: 60_000 })
    const corpus = Array.from({ length: 50 }, (_, i) => deliverPdus(pick(random, ['+15550102030', '12345', '+4915123456789']), randomText(random, Math.floor(random() * 600)), i)).flat()
    try {
      for (let i = 0; i < inputs; i++) {
        const hex = Buffer.from(mutateBytes(random, hexToBytes(pick(random, corpus)), hexToBytes(pick(random, corpus)))).toString('hex')
        let decoded
        try {
          decoded = decodePdu(hex)
        } catch (err) {
          if (!(err instanceof InvalidPduError)) throw new FuzzFinding(`input ${i}: decodePdu threw ${(err as Error).name}: ${(err as Error).message} on ${hex}`)
          stats.refused++
          continue
        }
        stats.accepted++
        if (decoded.type === 'deliver') reassembler.add({ from: decoded.from, text: decoded.text, timestamp: decoded.timestamp, ...(decoded.concat == null ? {} : { concat: decoded.concat }) })
        if (waiting.length > 100) await Promise.all(waiting.splice(0))
        if (failures.length > 0) throw new FuzzFinding(`input ${i}: the phone could not store an incoming text (${failures[0] ?? ''}): it would never acknowledge it`)
      }
      await Promise.all(waiting)
      if (failures.length > 0) throw new FuzzFinding(`the phone could not store an incoming text (${failures[0] ?? ''})`)
    } finally {
      proxy.stop()
      phone.store.close()
    }
    return stats
  }
}

/** The simulated carrier's protocol lines, from phones and from anyone, over real TCP. */
export const carrierLines: FuzzTarget = {
  name: 'carrier',
  async run (random, inputs) {
    const carrier = new Carrier({ host: '127.0.0.1', port: 0 })
    const { port } = await carrier.listen()
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const corpus = [
      { op: 'attach', number: '+15550100002' },
      { op: 'submit', tag: 1, to: '+15550109999', body: 'hello' },
      { op: 'inject', from: '+15550109999', to: '+15550100002', body: 'hi there' },
      { op: 'ack', id: 1 },
      { op: 'log' },
      { op: 'report', ref: 'R1', status: 'delivered' }
    ]
    let socket: Socket | undefined
    const open = async (): Promise<Socket> => await new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => { resolve(s) })
      s.on('error', reject)
      s.on('data', () => {})
    })
    try {
      for (let i = 0; i < inputs; i++) {
        if (socket == null || socket.destroyed) socket = await open()
        const base = pick(random, corpus)
        const line = random() < 0.7 ? JSON.stringify(mutateJson(random, base)) : latin.decode(mutateBytes(random, encoder.encode(JSON.stringify(base))))
        socket.write(line.replaceAll('\n', ' ') + '\n')
        if (i % 100 === 99) {
          // the carrier still answers: a fresh connection attaches
          const check = await open()
          const answered = await new Promise<boolean>((resolve) => {
            check.once('data', (d) => { resolve(d.toString().includes('"attached"')) })
            check.write(JSON.stringify({ op: 'attach', number: '+15550100009' }) + '\n')
            setTimeout(() => { resolve(false) }, 5_000).unref()
          })
          check.destroy()
          if (!answered) throw new FuzzFinding(`input ${i}: the carrier stopped answering`)
          stats.accepted++
          socket.destroy()
        }
      }
    } finally {
      socket?.destroy()
      await carrier.close()
    }
    stats.refused = inputs - stats.accepted
    return stats
  }
}

export const TARGETS: FuzzTarget[] = [events, frames, pdu, carrierLines]
