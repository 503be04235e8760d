/**
 * Fuzz targets for what strangers and members send the node: tunnel frames (decoded, and fed
 * to a live tunnel session), signed records (certificates, profiles, epochs, chains), the DHT
 * validator, and pairing messages. Each throws a FuzzFinding when an error other than the
 * part's own refusal escapes.
 */
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey, Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { FrameType } from '../../link/constants.ts'
import { TunnelProtocolError } from '../../link/errors.ts'
import { decodeFrame, encodeFrame, type Frame } from '../../link/frames.ts'
import { TunnelSession } from '../../link/session.ts'
import { AccountStore } from '../../node/identity/account.ts'
import { CpaceError, CpaceSession, pairingChannel } from '../../node/identity/cpace.ts'
import { DeviceTable } from '../../node/identity/device-table.ts'
import { accountSecrets, dhtProfileValidator, sealDhtProfile } from '../../node/identity/dht-profile.ts'
import { EpochChain, openEpoch } from '../../node/identity/epochs.ts'
import { InvalidRecordError, PairingError } from '../../node/identity/errors.ts'
import { openGift, parseMessage, sealGift } from '../../node/identity/pairing-messages.ts'
import { ProfileBook } from '../../node/identity/profile-book.ts'
import { openCertificate, openProfile, sealCertificate, sealProfile, type DeviceProfile } from '../../node/identity/records.ts'
import { SqliteDatastore } from '../../node/sqlite-datastore.ts'
import { pick } from '../../testbed/sms-events.ts'
import { mutateBytes, mutateJson } from './mutate.ts'
import { FuzzFinding, type FuzzStats, type FuzzTarget } from './targets.ts'

type Random = () => number
let runs = 0

/** Run `attempt`; a refusal of one of `refusals` counts, anything else escaping is a finding. */
async function outcome (stats: FuzzStats, i: number, what: string, refusals: Array<abstract new (...args: never[]) => Error>, attempt: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await attempt()
    stats.accepted++
  } catch (err) {
    if (err instanceof FuzzFinding) throw err
    if (!refusals.some(R => err instanceof R)) throw new FuzzFinding(`input ${i}: ${what} threw ${(err as Error).name}: ${(err as Error).message}`)
    stats.refused++
  }
}

/** A stream the session can ride whose other end is the fuzzer: it records what the session did to it. */
function fuzzStream (): { stream: Stream, aborted?: Error } {
  const state: { stream: Stream, aborted?: Error } = {} as { stream: Stream, aborted?: Error }
  state.stream = {
    status: 'open',
    send: () => true,
    onDrain: async () => {},
    close: async () => {},
    abort: (err: Error) => { state.aborted = err }
  } as unknown as Stream
  return state
}

const sequenced = (random: Random, seq: number): Frame => {
  const channel = pick(random, [1, 2, 3, 4, 2 ** 31, 0])
  switch (Math.floor(random() * 7)) {
    case 0: return { type: FrameType.OPEN, seq, channel, priority: pick(random, [0, 1, 2, 3]), name: pick(random, ['echo', 'nope', 'sms-sync', 'tcp:22', '']) }
    case 1: return { type: FrameType.DATA, seq, channel, payload: new Uint8Array(Math.floor(random() * 3000)) }
    case 2: return { type: FrameType.WINDOW, seq, channel, credit: pick(random, [1, 1024, 2 ** 20, 2 ** 32 - 1]) }
    case 3: return { type: FrameType.CLOSE, seq, channel }
    case 4: return { type: FrameType.RESET, seq, channel, reason: 'x' }
    case 5: return { type: FrameType.OPEN_OK, seq, channel }
    default: return { type: FrameType.OPEN_FAIL, seq, channel, reason: 'no' }
  }
}

/** `decodeFrame`, and a live TunnelSession fed frame streams: valid, then mutated anywhere. */
export const tunnel: FuzzTarget = {
  name: 'tunnel',
  async run (random, inputs) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const log = logger('fuzz:tunnel')
    for (let i = 0; i < inputs; i++) {
      // a short conversation: frames numbered from 1, some acks, then one place mutated
      const frames: Frame[] = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, n) => random() < 0.15 ? { type: FrameType.ACK, received: n } : sequenced(random, n + 1))
      let seq = 0
      for (const f of frames) if ('seq' in f) f.seq = ++seq
      const whole = Buffer.concat(frames.map(f => encodeFrame(f)))
      const bytes = random() < 0.3 ? whole : mutateBytes(random, whole)
      // the decoder alone, on each length-prefixed body
      await outcome(stats, i, 'decodeFrame', [TunnelProtocolError], () => {
        if (bytes.byteLength >= 4) decodeFrame(bytes.subarray(4, 4 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)))
      })
      // the session: it must take the stream or cut it with a protocol error, nothing else
      const session = new TunnelSession({
        device: 'fuzz',
        initiator: random() < 0.5,
        id: new Uint8Array(16),
        log,
        graceMs: 60_000,
        onOpen: (name) => {
          if (name !== 'echo') throw new Error(`no service for ${name}`)
          return (channel) => { void (async () => { try { for await (const chunk of channel) await channel.write(chunk) } catch {} })() }
        }
      })
      const fuzz = fuzzStream()
      let exhausted = false
      async function * source (): AsyncGenerator<Uint8Array | Uint8ArrayList> {
        for (let at = 0; at < bytes.byteLength;) {
          const n = 1 + Math.floor(random() * 512)
          yield bytes.subarray(at, at + n)
          at += n
        }
        exhausted = true
      }
      session.attach(fuzz.stream, 0, source(), new Uint8Array())
      for (let spin = 0; spin < 50 && !exhausted && fuzz.aborted == null; spin++) await new Promise(resolve => setImmediate(resolve))
      if (fuzz.aborted != null && !(fuzz.aborted instanceof TunnelProtocolError)) throw new FuzzFinding(`input ${i}: the session cut its stream with ${fuzz.aborted.name}: ${fuzz.aborted.message}`)
      if (!exhausted && fuzz.aborted == null) throw new FuzzFinding(`input ${i}: the session stopped reading without a protocol error`)
      session.close('fuzz input done')
    }
    return stats
  }
}

/** Signed records: certificates, profiles, epoch records and chains, mutated before and after signing. */
export const records: FuzzTarget = {
  name: 'records',
  async run (random, inputs) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const keys: PrivateKey[] = await Promise.all(Array.from({ length: 4 }, async () => await generateKeyPair('Ed25519')))
    const id = (k: PrivateKey): string => peerIdFromPrivateKey(k).toString()
    const [account, device, next] = keys as [PrivateKey, PrivateKey, PrivateKey]
    const profile: DeviceProfile = { v: 1, device: id(device), account: id(account), name: 'phone', kind: 'phone', public: false, capabilities: [{ name: 'sms.send', sim: { number: '+15550100002' } }], seq: 1, time: 1 }
    const epoch = { v: 1 as const, account: id(account), epoch: 1, key: id(next), members: [id(device)], removed: [id(keys[3] as PrivateKey)], by: id(device), at: 1 }
    const chain = await EpochChain.empty(id(account)).extend(epoch, account)
    for (let i = 0; i < inputs; i++) {
      const kind = Math.floor(random() * 4)
      const before = random() < 0.5
      const m = <T>(v: T): T => before ? mutateJson(random, v) as T : v
      const bytes = await (async () => {
        try {
          switch (kind) {
            case 0: return await sealCertificate(m({ v: 1 as const, account: id(account), device: id(device), issuer: id(device), issuedAt: 1, epoch: pick(random, [0, 1, 2]) }), account)
            case 1: return await sealProfile(m(profile), device)
            case 2: return (await EpochChain.empty(id(account)).extend(m(epoch), account)).encode()
            default: return chain.encode()
          }
        } catch {
          return new Uint8Array(Math.floor(random() * 64))
        }
      })()
      const input = before ? bytes : mutateBytes(random, bytes)
      await outcome(stats, i, 'a record', [InvalidRecordError], async () => {
        switch (kind) {
          case 0: return await openCertificate(input)
          case 1: return await openProfile(input)
          case 2: return await EpochChain.decode(input).then(async c => { if (c.epoch > 0) await openEpoch(c.bytesOf(c.epoch) as Uint8Array) })
          default: return await EpochChain.decode(input)
        }
      })
    }
    return stats
  }
}

/** The DHT validator of a member, on mutated records of its own account and of others. */
export const dht: FuzzTarget = {
  name: 'dht',
  async run (random, inputs, dir) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const home = join(dir, `dht-${runs++}`)
    mkdirSync(home, { recursive: true })
    const ours = await generateKeyPair('Ed25519')
    const account = await AccountStore.open(home, ours)
    const datastore = new SqliteDatastore(join(home, 'node.db'))
    const table = new DeviceTable(join(home, 'devices.db'))
    const node = await createLibp2p({ start: false, privateKey: ours, datastore })
    const book = new ProfileBook({ account, table, log: logger('fuzz:book') })
    await book.load(node.peerStore)
    const validate = dhtProfileValidator({ account, book, roomForForeign: () => random() < 0.9 })
    const member = await generateKeyPair('Ed25519')
    const memberId = peerIdFromPrivateKey(member).toString()
    const cert = await account.certify(memberId)
    const foreign = accountSecrets(await generateKeyPair('Ed25519'))
    try {
      for (let i = 0; i < inputs; i++) {
        const seq = 1000 + i
        const profile: DeviceProfile = { v: 1, device: memberId, account: account.id, name: 'tablet', kind: 'tablet', public: false, capabilities: [], seq, time: seq }
        const profileBytes = await sealProfile(random() < 0.3 ? mutateJson(random, profile) as DeviceProfile : profile, member).catch(() => new Uint8Array(8))
        const secrets = random() < 0.7 ? accountSecrets(account.key) : foreign
        const sealed = await sealDhtProfile(secrets, member, memberId, seq, cert, profileBytes, ['/ip4/10.0.0.2/tcp/4001'])
        const key = random() < 0.2 ? mutateBytes(random, sealed.key) : sealed.key
        const value = random() < 0.6 ? mutateBytes(random, sealed.value) : sealed.value
        await outcome(stats, i, 'the DHT validator', [InvalidRecordError], async () => { await validate(key, value) })
      }
    } finally {
      await node.stop()
      datastore.close()
      table.close()
    }
    return stats
  }
}

/** Pairing: messages as they arrive, the encrypted account gift, and CPace key shares. */
export const pairing: FuzzTarget = {
  name: 'pairing',
  async run (random, inputs) {
    const stats: FuzzStats = { inputs, accepted: 0, refused: 0 }
    const encoder = new TextEncoder()
    const samples = [
      { t: 'hello', timeoutMs: 60_000, sid: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { t: 'wait', sid: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { t: 'share', y: 'A'.repeat(43) + '=', confirm: 'B'.repeat(43) + '=' },
      { t: 'accept', confirm: 'B'.repeat(43) + '=', gift: 'Q'.repeat(100) },
      { t: 'reject', reason: 'no' },
      { t: 'done' }
    ]
    const key = new Uint8Array(32).fill(7)
    const gift = sealGift(key, { accountKey: new Uint8Array(68), certificate: new Uint8Array(300), chain: encoder.encode('{"v":1}') })
    const session = new CpaceSession({ password: encoder.encode('123456'), channel: pairingChannel(new Uint8Array(38), new Uint8Array(38).fill(1)), sid: new Uint8Array(32), initiator: true })
    const other = new CpaceSession({ password: encoder.encode('123456'), channel: pairingChannel(new Uint8Array(38), new Uint8Array(38).fill(1)), sid: new Uint8Array(32), initiator: false })
    for (let i = 0; i < inputs; i++) {
      switch (Math.floor(random() * 3)) {
        case 0: {
          const sample = pick(random, samples)
          const bytes = random() < 0.5 ? encoder.encode(JSON.stringify(mutateJson(random, sample))) : mutateBytes(random, encoder.encode(JSON.stringify(sample)))
          await outcome(stats, i, 'parseMessage', [PairingError], () => parseMessage(bytes, 'hello', 'wait', 'share', 'accept', 'reject', 'done'))
          break
        }
        case 1:
          await outcome(stats, i, 'openGift', [PairingError], () => openGift(key, random() < 0.1 ? gift : mutateBytes(random, gift)))
          break
        default:
          await outcome(stats, i, 'a CPace share', [CpaceError], () => session.finish(random() < 0.1 ? other.share : mutateBytes(random, other.share)))
      }
    }
    return stats
  }
}

export const IDENTITY_TARGETS: FuzzTarget[] = [tunnel, records, dht, pairing]
