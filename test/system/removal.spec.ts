import assert from 'node:assert/strict'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { decryptDhtRecord, openDhtRecord } from '../../node/identity/dht-profile.ts'
import { EpochChain } from '../../node/identity/epochs.ts'
import { sealCertificate } from '../../node/identity/records.ts'
import { Device, Testbed, type DeviceRow, until } from '../../testbed/index.ts'
import { secretsOf, storedDhtRecord } from '../../testbed/dht.ts'
import { pair } from '../../testbed/pairing.ts'

const statusOf = async (d: Device): Promise<{ account: string, accountEpoch: number }> => await d.json('status')
const rowOf = async (viewer: Device, id: string): Promise<DeviceRow | undefined> => (await viewer.json<DeviceRow[]>('devices')).find(r => r.id === id)

/** What a stolen device's disk gives its thief: the account key of the epoch it was removed in. */
function stolenKey (copy: string): { key: PrivateKey, account: string } {
  const file = JSON.parse(readFileSync(join(copy, 'account.json'), 'utf8')) as { key: string, account: string }
  return { key: privateKeyFromProtobuf(Buffer.from(file.key, 'base64')), account: file.account }
}

/**
 * A data directory for a device the thief makes up: its own device key, and an account file
 * it signed itself with the stolen key (`chain`: the epochs it claims; none by default).
 */
async function forgedDevice (dir: string, stolen: { key: PrivateKey, account: string }, forge: (device: string) => Promise<{ key: PrivateKey, chain: EpochChain }> = async () => ({ key: stolen.key, chain: EpochChain.empty(stolen.account) })): Promise<string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const deviceKey = await generateKeyPair('Ed25519')
  const device = peerIdFromPrivateKey(deviceKey).toString()
  const { key, chain } = await forge(device)
  const cert = await sealCertificate({ v: 1, account: stolen.account, device, issuer: device, issuedAt: Date.now(), epoch: chain.epoch }, key)
  writeFileSync(join(dir, 'device.key'), privateKeyToProtobuf(deviceKey), { mode: 0o600 })
  writeFileSync(join(dir, 'account.json'), JSON.stringify({ key: Buffer.from(privateKeyToProtobuf(key)).toString('base64'), cert: Buffer.from(cert).toString('base64'), account: stolen.account, chain: Buffer.from(chain.encode()).toString('base64') }), { mode: 0o600 })
  return device
}

describe('removing a device really removes it', function () {
  this.timeout(120_000)
  let bed: Testbed | undefined

  afterEach(async () => {
    await bed?.close()
    bed = undefined
  })

  /** Three devices, b and c paired with a, every one a member of the others. */
  async function threeMembers (links: 1 | 2 = 1): Promise<[Device, Device, Device]> {
    bed = new Testbed({ devices: 3, links })
    const [a, b, c] = bed.devices as [Device, Device, Device]
    for (const d of bed.devices) await d.start()
    await until('they see each other', 10_000, async () => await bed!.allSeeEachOther())
    await pair(b, a)
    await pair(c, a)
    await until('all members', 10_000, async () => (await rowOf(b, c.id))?.relation === 'member' && (await rowOf(c, b.id))?.relation === 'member')
    return [a, b, c]
  }

  it('moves the account to a new epoch: the removed device, with its old files, can add no one nor remove anyone, and a member that was off catches up', async () => {
    const [a, b, c] = await threeMembers()
    const account = (await statusOf(a)).account
    const oldSecrets = await secretsOf(c)
    // the thief's copy of c's disk, taken before the removal
    const copy = join(c.dataDir, '..', 'stolen-c')
    cpSync(c.dataDir, copy, { recursive: true, filter: (src) => !src.endsWith('.sock') && !src.endsWith('.lock') })

    // a text c writes while no phone is there: once c is out of the account, none will take it
    const written = await c.json<{ id: string, status: string }>('sms', 'send', '+15550100009', 'written on c, never taken')
    assert.equal(written.status, 'pending')
    await b.stop()
    assert.equal((await a.cli('unpair', c.id)).code, 0)
    assert.deepEqual(await statusOf(a).then(s => [s.account, s.accountEpoch]), [account, 1], 'the same account, a new epoch')
    await until('c, told, is an account of its own', 10_000, async () => (await statusOf(c)).account !== account)
    await until('c ended its own text, saying why', 10_000, async () =>
      (await c.api.call<Array<{ id: string, status: string, reason?: string }>>('GET', '/v1/sms')).some(m => m.id === written.id && m.status === 'failed' && /left its account/.test(m.reason ?? '')))
    await c.stop()

    // b was off: it is handed the new epoch when it is back
    await b.start()
    await until('b at the new epoch, a member of a', 15_000, async () =>
      (await statusOf(b)).accountEpoch === 1 && (await rowOf(b, a.id))?.relation === 'member' && (await rowOf(a, b.id))?.relation === 'member')
    assert.notEqual((await rowOf(b, c.id))?.relation, 'member', 'b learnt that c is removed')

    // the thief certifies a new device with the key it holds, on c's host
    const stolen = stolenKey(copy)
    const mintedDir = join(copy, '..', 'minted')
    const minted = await forgedDevice(mintedDir, stolen)
    const thief = new Device({ dataDir: mintedDir, ns: c.init.ns, name: 'ana-phone' })
    await thief.start()
    await until('a and b see the minted device', 15_000, async () => (await rowOf(a, minted))?.online === true && (await rowOf(b, minted))?.online === true)
    await new Promise(resolve => setTimeout(resolve, 2_000))
    assert.equal((await rowOf(a, minted))?.relation, 'nearby', 'a refuses it as a member')
    assert.equal((await rowOf(b, minted))?.relation, 'nearby', 'b refuses it as a member')
    // its DHT record, under the old epoch's secrets: the account cannot read it as one of its own
    const { record } = await storedDhtRecord(a, { id: minted }, oldSecrets)
    const { nonce, ct } = await openDhtRecord(record.key, record.value)
    const currentSecrets = await secretsOf(a)
    assert.throws(() => decryptDhtRecord(currentSecrets, record.key, nonce, ct), /does not decrypt/)
    await thief.stop()

    // ...then signs an epoch of its own that removes a: another branch, applied by nobody
    const forkDir = join(copy, '..', 'fork')
    const forker = await forgedDevice(forkDir, stolen, async (device) => {
      const key = await generateKeyPair('Ed25519')
      const chain = await EpochChain.empty(stolen.account).extend({ v: 1, account: stolen.account, epoch: 1, key: peerIdFromPrivateKey(key).toString(), members: [device, b.id], removed: [a.id], by: device, at: Date.now() }, stolen.key)
      return { key, chain }
    })
    const fork = new Device({ dataDir: forkDir, ns: c.init.ns, name: 'ana-phone' })
    await fork.start()
    // (it refuses a, which its branch removed; b, which it keeps, meets it)
    await until('b sees the forking device', 15_000, async () => (await rowOf(b, forker))?.online === true)
    await new Promise(resolve => setTimeout(resolve, 2_000))
    assert.equal((await rowOf(b, a.id))?.relation, 'member', 'b still counts a as a member')
    assert.equal((await rowOf(a, b.id))?.relation, 'member')
    assert.equal((await statusOf(a)).accountEpoch, 1)
    assert.equal((await statusOf(b)).accountEpoch, 1)
    assert.notEqual((await rowOf(b, forker))?.relation, 'member')
    await fork.stop()
  })

  it('a device that leaves hands the others an epoch without itself, and they stay an account', async () => {
    const [a, b, c] = await threeMembers()
    const account = (await statusOf(a)).account
    assert.equal((await c.cli('unpair', c.id)).code, 0)
    assert.notEqual((await statusOf(c)).account, account, 'c is an account of its own')
    await until('a and b at the epoch c handed them, members of each other', 15_000, async () =>
      (await statusOf(a)).accountEpoch === 1 && (await statusOf(b)).accountEpoch === 1 &&
      (await rowOf(a, b.id))?.relation === 'member' && (await rowOf(b, a.id))?.relation === 'member')
    assert.notEqual((await rowOf(a, c.id))?.relation, 'member')
    assert.notEqual((await rowOf(b, c.id))?.relation, 'member')
  })

  it('takes a device again after a removal: reset and paired through another member, it is a member everywhere, also after a restart, and nobody logs an error', async () => {
    // two links each: the epoch is handed over both at once, a race the daemons must not call a fork
    const [a, b, c] = await threeMembers(2)
    const removedId = c.id
    // a text c wrote while it was ours: part of the account's history, also for whoever joins later
    const written = await c.cli('sms', 'send', '+15550100009', 'written on c before its removal')
    assert.equal(written.code, 0, written.stderr)
    const bodies = async (d: Device): Promise<string[]> => (await d.api.call<Array<{ body: string }>>('GET', '/v1/sms')).map(m => m.body)
    await until('a and b hold c\'s text', 10_000, async () => (await bodies(a)).length === 1 && (await bodies(b)).length === 1)
    // no phone took it: once c is removed nobody ever will, and every device says so (by the
    // removal, or by c itself when it learnt it was out before the others knew)
    const orphaned = async (d: Device): Promise<boolean> => (await d.api.call<Array<{ status: string, reason?: string }>>('GET', '/v1/sms')).some(m => m.status === 'failed' && /^not sent: .*(removed from the account|left its account).* before a phone took it$/.test(m.reason ?? ''))
    assert.equal(await orphaned(a), false)
    assert.equal((await a.cli('unpair', c.id)).code, 0)
    await until('b at epoch 1', 15_000, async () => (await statusOf(b)).accountEpoch === 1)
    await until('c\'s text ended failed on a and b', 10_000, async () => await orphaned(a) && await orphaned(b))
    await c.stop()
    rmSync(c.dataDir, { recursive: true, force: true })
    await c.start()
    assert.notEqual(c.id, removedId, 'a reset device is a new device')
    await until('b sees the new c', 15_000, async () => (await rowOf(b, c.id))?.online === true)
    await pair(c, b)
    const members = async (): Promise<boolean> => {
      for (const [x, y] of [[a, b], [a, c], [b, a], [b, c], [c, a], [c, b]] as Array<[Device, Device]>) {
        if ((await rowOf(x, y.id))?.relation !== 'member') return false
      }
      return true
    }
    await until('all three members of each other', 20_000, members)
    await until('the new c holds the text the removed one wrote, failed', 10_000, async () => (await bodies(c)).includes('written on c before its removal') && await orphaned(c))
    await c.stop()
    await c.start()
    await until('all three members again after c restarted', 20_000, members)
    assert.equal((await statusOf(c)).accountEpoch, 1)
    for (const d of [a, b, c]) assert.equal(d.log.trim(), '', `${d.init.name ?? ''} logged errors`)
  })

  it('refuses to start on an account file it cannot read, rather than forget who was removed', async () => {
    bed = new Testbed({ devices: 1, links: 1 })
    const [a] = bed.devices as [Device]
    await a.start()
    await a.stop()
    const file = JSON.parse(readFileSync(join(a.dataDir, 'account.json'), 'utf8')) as Record<string, string>
    writeFileSync(join(a.dataDir, 'account.json'), JSON.stringify({ ...file, chain: Buffer.from('{"v":1,"account":"x","epochs":[]}').toString('base64') }))
    await assert.rejects(a.start(), /account\.json is damaged.*will not guess/)
    writeFileSync(join(a.dataDir, 'account.json'), JSON.stringify(file))
    writeFileSync(join(a.dataDir, 'revocations.bin'), 'garbage')
    await assert.rejects(a.start(), /revocations\.bin is damaged/)
  })
})
