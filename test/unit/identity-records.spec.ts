import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RecordEnvelope } from '@libp2p/peer-record'
import { logger } from '@libp2p/logger'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { PrivateKey } from '@libp2p/interface'
import { AccountStore } from '../../node/identity/account.ts'
import { CERT_CODEC, CERT_DOMAIN, MAX_NEARBY_DEVICES, PROFILE_CODEC, PROFILE_DOMAIN } from '../../node/identity/constants.ts'
import { accountSecrets, dhtProfileValidator, profileKey, sealDhtProfile, dhtProfileSelector } from '../../node/identity/dht-profile.ts'
import { ProfileBook } from '../../node/identity/profile-book.ts'
import { DeviceTable } from '../../node/identity/device-table.ts'
import { OwnProfile } from '../../node/identity/own-profile.ts'
import { openCertificate, sealCertificate, sealProfile, sealRevocations, type DeviceProfile } from '../../node/identity/records.ts'
import { EpochChain, type EpochRecord } from '../../node/identity/epochs.ts'
import { SqliteDatastore } from '../../node/sqlite-datastore.ts'
import { tempDir } from '../../testbed/index.ts'

const idOf = (key: PrivateKey): string => peerIdFromPrivateKey(key).toString()

/** Seal any object in any domain and payload type, bypassing every check of ours: what a forger can do. */
async function forge (domain: string, codec: Uint8Array, value: unknown, key: PrivateKey): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  return (await RecordEnvelope.seal({ domain, codec, marshal: () => bytes, equals: () => false }, key)).marshal()
}

describe('identity records: what a device accepts', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let node: Libp2p
  let datastore: SqliteDatastore
  let account: AccountStore
  let book: ProfileBook
  let table: DeviceTable
  let foreign: AccountStore
  let member: PrivateKey
  let memberCert: Uint8Array
  let revoked: PrivateKey
  let revokedCert: Uint8Array
  /** The account's key before the removal: what the removed device still holds. */
  let firstKey: PrivateKey
  let outsider: PrivateKey
  let outsiderCert: Uint8Array

  const profileOf = (key: PrivateKey, accountId: string, extra: Partial<DeviceProfile> = {}): DeviceProfile => ({
    v: 1, device: idOf(key), account: accountId, name: 'phone', kind: 'phone', public: false, capabilities: [{ name: 'sms.send', sim: { country: 'DE', signal: 3 } }], seq: 100, time: Date.now(), ...extra
  })

  before(async () => {
    const ours = await generateKeyPair('Ed25519')
    account = await AccountStore.open(tmp.path, ours)
    const foreignDir = join(tmp.path, 'foreign')
    await import('node:fs/promises').then(async fs => await fs.mkdir(foreignDir))
    outsider = await generateKeyPair('Ed25519')
    foreign = await AccountStore.open(foreignDir, outsider)
    outsiderCert = foreign.certificate
    datastore = new SqliteDatastore(join(tmp.path, 'node.db'))
    node = await createLibp2p({ start: false, privateKey: ours, datastore })
    table = new DeviceTable(join(tmp.path, 'devices.db'))
    book = new ProfileBook({ account, table, log: logger('test:book') })
    await book.load(node.peerStore)
    member = await generateKeyPair('Ed25519')
    revoked = await generateKeyPair('Ed25519')
    revokedCert = await account.certify(idOf(revoked))
    firstKey = account.key
    await account.rotate([idOf(revoked)], [idOf(member)])
    memberCert = await account.certify(idOf(member))
    // the positive control: a member's genuine profile is accepted
    assert.equal(await book.accept(idOf(member), memberCert, await sealProfile(profileOf(member, account.id), member)), 'accepted')
    assert.equal(book.relation(idOf(member)), 'member')
  })

  after(async () => {
    await node.stop()
    datastore.close()
    table.close()
    tmp.cleanup()
  })

  it('refuses at least 50 forged, replayed, foreign, revoked and malformed profiles and DHT records', async () => {
    const m = (): string => idOf(member)
    const A = (): string => account.id
    const seal = async (p: DeviceProfile, key = member): Promise<Uint8Array> => await forge(PROFILE_DOMAIN, PROFILE_CODEC, p, key)
    const stranger = await generateKeyPair('Ed25519')

    /** Profile cases: [what, from, cert, profile]; each must throw from accept(). */
    const profiles: Array<[string, () => Promise<[string, Uint8Array, Uint8Array]>]> = [
      ...[0, 1, 16, 200, 5000, 9000].map(n => [`${n} random bytes as a profile`, async () => [m(), memberCert, randomBytes(n)]] as [string, () => Promise<[string, Uint8Array, Uint8Array]>]),
      ...[1, 100, 3000].map(n => [`${n} random bytes as a certificate`, async () => [m(), randomBytes(n), await sealProfile(profileOf(member, A(), { seq: 200 }), member)]] as [string, () => Promise<[string, Uint8Array, Uint8Array]>]),
      ['a profile signed by another device', async () => [m(), memberCert, await seal(profileOf(member, A(), { seq: 201 }), stranger)]],
      ['a profile arriving from another device', async () => [idOf(stranger), memberCert, await sealProfile(profileOf(member, A(), { seq: 202 }), member)]],
      ['a certificate for another device', async () => [m(), await account.certify(idOf(stranger)), await sealProfile(profileOf(member, A(), { seq: 203 }), member)]],
      ['a certificate not signed by its account', async () => [m(), await forge(CERT_DOMAIN, CERT_CODEC, { v: 1, account: A(), device: m(), issuer: m(), issuedAt: 1 }, stranger), await sealProfile(profileOf(member, A(), { seq: 204 }), member)]],
      ['a certificate in place of the profile', async () => [m(), memberCert, memberCert]],
      ['a profile in place of the certificate', async () => { const p = await sealProfile(profileOf(member, A(), { seq: 205 }), member); return [m(), p, p] }],
      ['a profile with the certificate payload type', async () => [m(), memberCert, await forge(PROFILE_DOMAIN, CERT_CODEC, profileOf(member, A(), { seq: 206 }), member)]],
      ['a profile naming another account than its certificate', async () => [m(), memberCert, await sealProfile(profileOf(member, foreign.id, { seq: 207 }), member)]],
      ...[99, 50, 0].map(seq => [`a replayed profile with sequence ${seq}`, async () => [m(), memberCert, await sealProfile(profileOf(member, A(), { seq }), member)]] as [string, () => Promise<[string, Uint8Array, Uint8Array]>]),
      ['the held sequence number with other content', async () => [m(), memberCert, await sealProfile(profileOf(member, A(), { name: 'other' }), member)]],
      ['a revoked device\'s genuine profile', async () => [idOf(revoked), revokedCert, await sealProfile(profileOf(revoked, A()), revoked)]],
      ['a foreign device claiming our account with its own certificate', async () => [idOf(outsider), outsiderCert, await sealProfile(profileOf(outsider, A()), outsider)]],
      ...([
        ['an empty name', { name: '' }],
        ['a name with a newline', { name: 'a\nb' }],
        ['a 65-byte name', { name: 'x'.repeat(65) }],
        ['an unknown kind', { kind: 'toaster' }],
        ['an unknown capability', { capabilities: [{ name: 'teleport' }] }],
        ['33 capabilities', { capabilities: Array.from({ length: 33 }, () => ({ name: 'tunnel' })) }],
        ['a public profile with capabilities', { public: true }],
        ['a negative sequence number', { seq: -1 }],
        ['a fractional sequence number', { seq: 300.5 }],
        ['a sequence number as text', { seq: '301' }],
        ['version 2', { v: 2 }],
        ['a device that is not a device id', { device: 'alice' }],
        ['an account that is not an id', { account: 'x' }],
        ['signal strength 9', { capabilities: [{ name: 'sms.send', sim: { signal: 9 } }] }],
        ['battery at 101 %', { power: { battery: 101 } }],
        ['no public flag', { public: undefined }],
        ['9 KB of padding', { padding: 'x'.repeat(9000) }]
      ] as Array<[string, Record<string, unknown>]>).map(([what, patch], i) => [`a profile with ${what}`, async () =>
        [m(), memberCert, await seal({ ...profileOf(member, A(), { seq: 400 + i }), ...patch } as DeviceProfile)]] as [string, () => Promise<[string, Uint8Array, Uint8Array]>])
    ]

    let refused = 0
    const accepted: string[] = []
    /** A refusal counts only if it is a record refusal, not a slip of the test's own making. */
    const REASONS = new Set(['InvalidRecordError', 'InvalidCertificateError', 'InvalidProfileError', 'ReplayedRecordError', 'RemovedDeviceError'])
    const refusedFor = (what: string, err: unknown): void => {
      assert.ok(REASONS.has((err as Error).name), `${what}: refused for the wrong reason: ${(err as Error).stack ?? String(err)}`)
      refused++
    }
    for (const [what, make] of profiles) {
      const [from, cert, profile] = await make()
      try {
        await book.accept(from, cert, profile)
        accepted.push(what)
      } catch (err) {
        refusedFor(what, err)
      }
    }
    // a device of another account is a neighbour, never a member
    assert.equal(await book.accept(idOf(outsider), outsiderCert, await sealProfile(profileOf(outsider, foreign.id), outsider)), 'accepted')
    assert.equal(book.relation(idOf(outsider)), 'nearby')

    /** DHT record cases under our account's key space; each must be refused by the validator. */
    const secrets = accountSecrets(account.key)
    const foreignSecrets = accountSecrets(foreign.key)
    const validate = dhtProfileValidator({ account, book })
    const good = async (seq: number, extra: Partial<DeviceProfile> = {}): Promise<{ key: Uint8Array, value: Uint8Array }> =>
      await sealDhtProfile(secrets, member, m(), seq, memberCert, await sealProfile(profileOf(member, A(), { seq, ...extra }), member))
    const json = (v: Uint8Array): Record<string, unknown> => JSON.parse(new TextDecoder().decode(v)) as Record<string, unknown>
    const bytes = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
    const memberKey = profileKey(secrets, m())
    const records: Array<[string, () => Promise<[Uint8Array, Uint8Array]>]> = [
      ['random bytes', async () => [memberKey, randomBytes(300)]],
      ['text that is not JSON', async () => [memberKey, new TextEncoder().encode('hello')]],
      ['JSON without fields', async () => [memberKey, bytes({ v: 1 })]],
      ['version 2', async () => { const r = await good(500); return [r.key, bytes({ ...json(r.value), v: 2 })] }],
      ['17 KB', async () => [memberKey, randomBytes(17 * 1024)]],
      ['a flipped signature bit', async () => { const r = await good(501); const o = json(r.value); const sig = Buffer.from(o.sig as string, 'base64'); sig[0] = (sig[0] ?? 0) ^ 1; return [r.key, bytes({ ...o, sig: sig.toString('base64') })] }],
      ['a signature by another device', async () => { const r = await sealDhtProfile(secrets, stranger, m(), 502, memberCert, await sealProfile(profileOf(member, A(), { seq: 502 }), member)); return [r.key, r.value] }],
      ['a record moved under another key', async () => { const r = await good(503); return [profileKey(secrets, idOf(stranger)), r.value] }],
      ['tampered ciphertext', async () => { const r = await good(504); const o = json(r.value); const ct = Buffer.from(o.ct as string, 'base64'); ct[3] = (ct[3] ?? 0) ^ 0xff; return [r.key, bytes({ ...o, ct: ct.toString('base64') })] }],
      ['contents encrypted with another account\'s key', async () => { const r = await sealDhtProfile(foreignSecrets, member, m(), 505, memberCert, await sealProfile(profileOf(member, A(), { seq: 505 }), member)); return [memberKey, r.value] }],
      ['a foreign-account device under our key space', async () => { const r = await sealDhtProfile(secrets, outsider, idOf(outsider), 506, outsiderCert, await sealProfile(profileOf(outsider, foreign.id, { seq: 506 }), outsider)); return [r.key, r.value] }],
      ['a revoked device\'s genuine record', async () => { const r = await sealDhtProfile(secrets, revoked, idOf(revoked), 507, revokedCert, await sealProfile(profileOf(revoked, A(), { seq: 507 }), revoked)); return [r.key, r.value] }],
      ['a replayed older record', async () => { const r = await good(99); return [r.key, r.value] }],
      ['the held sequence with other content', async () => { const r = await good(100, { name: 'other' }); return [r.key, r.value] }],
      ['an outer sequence that differs from the profile', async () => { const r = await sealDhtProfile(secrets, member, m(), 509, memberCert, await sealProfile(profileOf(member, A(), { seq: 508 }), member)); return [r.key, r.value] }],
      ['a public profile', async () => { const r = await sealDhtProfile(secrets, member, m(), 510, memberCert, await sealProfile({ ...profileOf(member, A(), { seq: 510 }), public: true, capabilities: [] }, member)); return [r.key, r.value] }],
      ['a device that is not a device id', async () => { const r = await good(511); return [r.key, bytes({ ...json(r.value), device: 'bob' })] }],
      ['a short nonce', async () => { const r = await good(512); return [r.key, bytes({ ...json(r.value), nonce: 'AAAA' })] }],
      // found by npm run fuzz (dht, seed 5): a signature of the wrong length made the key's verify throw a TypeError
      ['a signature cut short', async () => { const r = await good(513); const o = json(r.value); return [r.key, bytes({ ...o, sig: Buffer.from(o.sig as string, 'base64').subarray(0, 40).toString('base64') })] }],
      ['a key of another shape', async () => { const r = await good(514); return [new TextEncoder().encode('/companion/' + 'a'.repeat(1000)), r.value] }],
      ['kad\'s own record type', async () => [new TextEncoder().encode('/pk/abc'), randomBytes(40)]]
    ]
    for (const [what, make] of records) {
      const [key, value] = await make()
      try {
        await validate(key, value)
        accepted.push(`DHT record: ${what}`)
      } catch (err) {
        refusedFor(`DHT record: ${what}`, err)
      }
    }
    assert.deepEqual(accepted, [], 'nothing forged is accepted')
    assert.ok(refused >= 50, `only ${refused} cases`)

    // positive controls: the member's genuine newer records pass, and the newest wins
    const newer = await good(600)
    await validate(newer.key, newer.value)
    const newest = await good(601)
    assert.equal(dhtProfileSelector(newer.key, [newer.value, newest.value, randomBytes(10)]), 1)
    assert.equal(await book.accept(m(), memberCert, await sealProfile(profileOf(member, A(), { seq: 602 }), member)), 'accepted')
  })

  it('after a removal, counts an old epoch\'s certificate for nobody new and tells branches, removals and lag apart', async () => {
    assert.equal(account.epoch, 1)
    // the removed device, holding the old key, certifies a device of its own
    const minted = await generateKeyPair('Ed25519')
    const mintedCert = await openCertificate(await sealCertificate({ v: 1, account: account.id, device: idOf(minted), issuer: idOf(revoked), issuedAt: Date.now() }, firstKey))
    assert.equal(account.isMemberCert(mintedCert), false)
    assert.equal(account.awaitsEpoch(mintedCert), false, 'it was no member at the rotation: no new epoch for it')
    const memberOld = await openCertificate(await sealCertificate({ v: 1, account: account.id, device: idOf(member), issuer: idOf(member), issuedAt: Date.now() }, firstKey))
    assert.equal(account.awaitsEpoch(memberOld), true, 'a member that was away gets the new epoch')
    // ...and signs an epoch of its own that removes a member: another branch
    const record = (over: Partial<EpochRecord>): EpochRecord => ({ v: 1, account: account.id, epoch: 1, key: idOf(minted), members: [idOf(revoked)], removed: [idOf(member)], by: idOf(revoked), at: Date.now(), ...over })
    const forked = await EpochChain.empty(account.id).extend(record({}), firstKey)
    assert.equal((await account.compare(forked.encode())).verdict, 'fork')
    assert.equal((await account.compare(EpochChain.empty(account.id).encode())).verdict, 'behind')
    assert.equal((await account.compare(account.chainRecord)).verdict, 'same')
    const current = await EpochChain.decode(account.chainRecord)
    const removesUs = await current.extend(record({ epoch: 2, members: [idOf(member)], removed: [account.certificateDevice], by: idOf(member) }), account.key)
    assert.equal((await account.compare(removesUs.encode())).verdict, 'removes-us')
    const forgetsUs = await current.extend(record({ epoch: 2, members: [idOf(member)], removed: [], by: idOf(member) }), account.key)
    assert.equal((await account.compare(forgetsUs.encode())).verdict, 'unlisted', 'not listed is not removed')
    const keepsUs = await current.extend(record({ epoch: 2, members: [idOf(member), account.certificateDevice], removed: [], by: idOf(member) }), account.key)
    assert.equal((await account.compare(keepsUs.encode())).verdict, 'ahead')
    // broken chains are refused outright
    const skipped = await EpochChain.empty(account.id).extend(record({ epoch: 1, members: [account.certificateDevice] }), foreign.key)
    await assert.rejects(account.compare(skipped.encode()), { name: 'InvalidEpochError' })
    await assert.rejects(account.compare(new TextEncoder().encode('{"v":1}')), { name: 'InvalidEpochError' })
    await assert.rejects(account.compare(randomBytes(100)), { name: 'InvalidEpochError' })
  })

  it('still honours a revocation list written by a version before epochs', async () => {
    const dir = await import('node:fs/promises').then(async fs => await fs.mkdtemp(join(tmp.path, 'legacy-')))
    const key = await generateKeyPair('Ed25519')
    const old = await AccountStore.open(dir, key)
    const removed = idOf(await generateKeyPair('Ed25519'))
    const list = await sealRevocations({ v: 1, account: old.id, version: 1, revoked: [{ device: removed, at: 1 }] }, old.key)
    await import('node:fs/promises').then(async fs => { await fs.writeFile(join(dir, 'revocations.bin'), list) })
    const reopened = await AccountStore.open(dir, key)
    assert.equal(reopened.isRevoked(removed), true)
    assert.equal(reopened.epoch, 0)
  })

  it('keeps the 256 most recently seen devices of other accounts, and every member', async () => {
    const strangers: string[] = []
    for (let i = 0; i < MAX_NEARBY_DEVICES + 20; i++) {
      const key = await generateKeyPair('Ed25519')
      const own = await AccountStore.open(await import('node:fs/promises').then(async fs => await fs.mkdtemp(join(tmp.path, 'nearby-'))), key)
      assert.equal(await book.accept(idOf(key), own.certificate, await sealProfile({ ...profileOf(key, own.id), public: true, capabilities: [] }, key)), 'accepted')
      strangers.push(idOf(key))
    }
    const nearby = book.all().filter(d => book.relation(d.id) === 'nearby').map(d => d.id)
    assert.equal(nearby.length, MAX_NEARBY_DEVICES)
    assert.deepEqual(new Set(nearby), new Set(strangers.slice(20)), 'the oldest gave way')
    assert.equal(book.relation(idOf(member)), 'member', 'the member is still there')
    assert.equal(table.all().length, book.all().length, 'the table holds what the book holds')
  })

  it('signs one profile per sequence number, even when two exchanges ask for it at once', async () => {
    const key = await generateKeyPair('Ed25519')
    const dir = join(tmp.path, 'own-profile')
    await import('node:fs/promises').then(async fs => await fs.mkdir(dir))
    const own = new OwnProfile({ dataDir: dir, deviceKey: key, account: await AccountStore.open(dir, key), describe: () => ({ name: 'phone', kind: 'phone', capabilities: [] }) })
    await own.start()
    const [a, b] = await Promise.all([own.envelopes(), own.envelopes()])
    assert.deepEqual(a.full, b.full)
    await own.bump()
    const c = await own.envelopes()
    assert.ok(c.profile.seq > a.profile.seq)
  })
})
