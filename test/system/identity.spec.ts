import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Testbed, type Device, type DeviceRow, until } from '../../testbed/index.ts'
import { pair, startPairing } from '../../testbed/pairing.ts'
import { secretsOf, storedDhtRecord } from '../../testbed/dht.ts'
import { openProfile } from '../../node/identity/records.ts'

const relationOf = async (viewer: Device, other: Device): Promise<string | undefined> =>
  (await viewer.api.call<DeviceRow[]>('GET', '/v1/devices')).find(r => r.id === other.id)?.relation
const accountOf = async (device: Device): Promise<string> => (await device.api.call<{ account: string }>('GET', '/v1/status')).account
const requestsOn = async (device: Device): Promise<Array<{ id: string }>> => await device.api.call('GET', '/v1/pair/requests')

describe('accounts and pairing', function () {
  this.timeout(120_000)
  let bed: Testbed | undefined

  afterEach(async () => {
    await bed?.close()
    bed = undefined
  })

  async function threeDevices (): Promise<[Device, Device, Device]> {
    bed = new Testbed({ devices: 3, links: 1 })
    for (const d of bed.devices) await d.start()
    await until('all see each other', 10_000, async () => await bed!.allSeeEachOther())
    return bed.devices as [Device, Device, Device]
  }

  it('pairs 2 with 1, then 3 with 2 while 1 is away: 1 and 3 trust each other when they meet', async () => {
    const [d1, d2, d3] = await threeDevices()
    assert.notEqual(await accountOf(d1), await accountOf(d2), 'a fresh device is an account of one')
    assert.equal(await relationOf(d1, d2), 'nearby')

    await pair(d2, d1)
    assert.equal(await accountOf(d2), await accountOf(d1))
    await until('1 and 2 members of each other', 5_000, async () =>
      await relationOf(d1, d2) === 'member' && await relationOf(d2, d1) === 'member')

    await d1.stop()
    await pair(d3, d2)
    assert.equal(await accountOf(d3), await accountOf(d2))
    await d1.start()
    await until('1 and 3 members of each other, online', 10_000, async () => {
      const rows = await d1.api.call<DeviceRow[]>('GET', '/v1/devices')
      const three = rows.find(r => r.id === d3.id)
      return three?.relation === 'member' && three.online && await relationOf(d3, d1) === 'member'
    })
    const status = await d3.json<{ account: string }>('status')
    assert.equal(status.account, await accountOf(d1))
  })

  it('refuses a wrong code on both sides and changes nothing', async () => {
    const [d1, d2] = await threeDevices()
    const before = [await accountOf(d1), await accountOf(d2)]
    const attempt = startPairing(d2, 'device-1')
    const code = await attempt.code
    const wrong = code === '000000' ? '111111' : '000000'
    await until('request listed', 5_000, async () => (await requestsOn(d1)).length === 1)
    const listed = await d1.json<Array<Record<string, unknown>>>('pair', 'requests')
    assert.equal(listed[0]?.name, 'device-2')
    assert.ok(!('code' in (listed[0] ?? {})), 'the code is never shown on the accepting side')

    const accepted = await d1.cli('pair', 'accept', 'device-2', '--code', wrong)
    assert.equal(accepted.code, 1)
    assert.match(accepted.stderr, /the code did not match \(attempt 1 of 3\)/)
    const joined = await attempt.result
    assert.equal(joined.code, 1)
    assert.match(joined.stderr, /the code did not match/)
    assert.deepEqual([await accountOf(d1), await accountOf(d2)], before)
    assert.equal(await relationOf(d1, d2), 'nearby')
    assert.deepEqual(await requestsOn(d1), [])
  })

  it('ends an unconfirmed request after its timeout, and a cancelled one at once', async () => {
    const [d1, d2, d3] = await threeDevices()
    const attempt = startPairing(d2, 'device-1', '--timeout', '2')
    await attempt.code
    const result = await attempt.result
    assert.equal(result.code, 1)
    assert.match(result.stderr, /timed out/)
    await until('request gone after the timeout', 3_000, async () => (await requestsOn(d1)).length === 0)

    const cancelled = startPairing(d3, 'device-1')
    await cancelled.code
    await until('request listed', 5_000, async () => (await requestsOn(d1)).length === 1)
    cancelled.cancel()
    const ended = await cancelled.result
    assert.equal(ended.code, 1)
    assert.match(ended.stderr, /pairing cancelled/)
    await until('cancelled request gone', 5_000, async () => (await requestsOn(d1)).length === 0)
  })

  it('refuses a device that failed 3 times in 10 minutes', async () => {
    const [d1, d2] = await threeDevices()
    for (let i = 1; i <= 3; i++) {
      const attempt = startPairing(d2, 'device-1')
      const code = await attempt.code
      await until('request listed', 5_000, async () => (await requestsOn(d1)).length === 1)
      const res = await d1.cli('pair', 'accept', 'device-2', '--code', code === '999999' ? '999998' : '999999')
      assert.match(res.stderr, new RegExp(`attempt ${i} of 3`))
      await attempt.result
    }
    const fourth = startPairing(d2, 'device-1')
    const result = await fourth.result
    assert.equal(result.code, 1)
    assert.match(result.stderr, /too many failed attempts/)
    assert.equal(await relationOf(d1, d2), 'nearby')
  })

  it('says so when the devices are already paired', async () => {
    const [d1, d2] = await threeDevices()
    await pair(d2, d1)
    await until('members', 5_000, async () => await relationOf(d1, d2) === 'member')
    const again = startPairing(d2, 'device-1')
    const result = await again.result
    assert.equal(result.code, 1)
    assert.match(result.stderr, /already a member/)
  })

  it('unpair removes a device on every member, tells the removed device, and a member that was away learns it by gossip', async () => {
    const [d1, d2, d3] = await threeDevices()
    await pair(d2, d1)
    await pair(d3, d1)
    await until('all members', 10_000, async () =>
      await relationOf(d2, d3) === 'member' && await relationOf(d3, d2) === 'member')

    await d3.stop()
    const res = await d1.cli('unpair', 'device-2')
    assert.equal(res.code, 0, res.stderr)
    const rows1 = await d1.json<DeviceRow[]>('devices')
    assert.ok(!rows1.some(r => r.id === d2.id && r.relation === 'member'), 'no longer a member on 1')
    await until('2 cut off from 1', 5_000, async () => !(await bed!.onlineSeenBy(d1)).has(d2.id))
    // it was connected when removed: it is told, and starts over as an account of its own
    await until('2 knows it was removed', 10_000, async () => {
      const [one, two] = [await d1.json<{ account: string }>('status'), await d2.json<{ account: string }>('status')]
      return two.account !== one.account && await relationOf(d2, d1) === 'nearby'
    })

    await d3.start()
    await until('3 learns the revocation and cuts 2 off', 10_000, async () => {
      const rows = await d3.api.call<DeviceRow[]>('GET', '/v1/devices')
      const two = rows.find(r => r.id === d2.id)
      const one = rows.find(r => r.id === d1.id)
      return (two == null || (two.relation !== 'member' && !two.online)) && one?.relation === 'member'
    })
    // and stays cut off: 2 keeps redialling, both refuse it
    await new Promise(resolve => setTimeout(resolve, 2_000))
    assert.ok(!(await bed!.onlineSeenBy(d1)).has(d2.id))
    assert.ok(!(await bed!.onlineSeenBy(d3)).has(d2.id))
  })

  it('keeps the master list: grant, revoke, grants', async () => {
    const [d1, d2, d3] = await threeDevices()
    await pair(d2, d1)
    await until('members', 5_000, async () => await relationOf(d1, d2) === 'member')
    const initial = await d1.json<Array<{ device: string, capability: string, allowed: boolean, source: string }>>('grants')
    assert.ok(initial.filter(e => e.device === d2.id).every(e => e.allowed && e.source === 'default'), 'members may use everything by default')

    assert.equal((await d1.cli('revoke', 'device-2', 'sms.send')).code, 0)
    let list = await d1.json<Array<{ device: string, capability: string, allowed: boolean, source: string }>>('grants')
    assert.deepEqual(list.find(e => e.device === d2.id && e.capability === 'sms.send'), { device: d2.id, name: 'device-2', capability: 'sms.send', allowed: false, source: 'explicit' })
    assert.equal(list.find(e => e.device === d2.id && e.capability === 'sms.receive')?.allowed, true)

    assert.equal((await d1.cli('grant', 'device-2', 'sms.send')).code, 0)
    list = await d1.json('grants')
    assert.equal(list.find(e => e.device === d2.id && e.capability === 'sms.send')?.allowed, true)

    const stranger = await d1.cli('grant', 'device-3', 'sms.send')
    assert.equal(stranger.code, 1)
    assert.match(stranger.stderr, /not a member/)
    const unknown = await d1.cli('grant', 'device-2', 'teleport')
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /unknown capability/)
    assert.ok(d3.id !== '')
  })

  it('publishes profiles in the DHT where only the account can find and read them', async () => {
    const [d1, d2] = await threeDevices()
    await pair(d2, d1)
    const secrets = await secretsOf(d2)
    const { record: stored, plain } = await storedDhtRecord(d1, d2, secrets)
    const readable = new TextDecoder().decode(stored.value)
    assert.ok(!readable.includes('device-2') && !readable.includes('sms.'), 'no name or capability in the clear')
    const profile = await openProfile(plain.profile)
    assert.equal(profile.name, 'device-2')
    assert.equal(profile.account, await accountOf(d1))
  })

  it('keeps keys 0600 and logs no keys or profile contents at the default level', async () => {
    const [d1, d2] = await threeDevices()
    await pair(d2, d1)
    await d1.cli('revoke', 'device-2', 'channels')
    for (const device of [d1, d2]) {
      for (const file of await readdir(device.dataDir)) {
        const mode = (await stat(join(device.dataDir, file))).mode & 0o777
        assert.equal(mode & 0o077, 0, `${file} is ${mode.toString(8)}`)
      }
      const account = JSON.parse(await readFile(join(device.dataDir, 'account.json'), 'utf8')) as { key: string }
      assert.ok(!device.log.includes(account.key), 'no account key in the log')
      assert.ok(!device.log.includes('device-1') && !device.log.includes('device-2'), `no names in the log: ${device.log}`)
    }
  })
})
