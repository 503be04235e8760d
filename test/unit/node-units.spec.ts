import assert from 'node:assert/strict'
import { isNews, MDNS_REPEAT_MS } from '../../node/mdns/discovery.ts'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Key } from 'interface-datastore'
import { all } from '../../testbed/iter.ts'
import { announceable, dialPolicyGater, isLoopback } from '../../node/address-policy.ts'
import { SqliteDatastore } from '../../node/sqlite-datastore.ts'
import { loadOrCreateDeviceKey } from '../../node/device-key.ts'
import { linkKindOf, interfaceForAddress } from '../../link/link-kind.ts'
import { resolveDataDir } from '../../cli/data-dir.ts'
import { powerChanged, readPower } from '../../daemon/power.ts'
import { tempDir } from '../../testbed/index.ts'

const ma = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)

describe('address policy', () => {
  it('recognises loopback addresses', () => {
    const cases: Array<[string, boolean]> = [
      ['/ip4/127.0.0.1/tcp/1', true],
      ['/ip4/127.8.9.10/tcp/1', true],
      ['/ip6/::1/tcp/1', true],
      ['/ip4/198.18.1.1/tcp/1', false],
      ['/ip6/fe80::1/tcp/1', false],
      ['/dns4/localhost/tcp/1', false]
    ]
    for (const [addr, expected] of cases) assert.equal(isLoopback(ma(addr)), expected, addr)
  })

  it('never announces loopback next to a real address, but does when loopback is all there is', () => {
    const lan = ma('/ip4/198.18.1.1/tcp/4001')
    const lo = ma('/ip4/127.0.0.1/tcp/4001')
    assert.deepEqual(announceable([lo, lan]).map(String), [lan.toString()])
    assert.deepEqual(announceable([lo]).map(String), [lo.toString()])
    assert.deepEqual(announceable([ma('/ip4/0.0.0.0/tcp/1'), lan]).map(String), [lan.toString()])
  })

  it('refuses to dial another device\'s loopback unless this device is loopback-only', async () => {
    const lanDevice = dialPolicyGater({ loopbackOnly: () => false, isRevoked: () => false })
    const demoDevice = dialPolicyGater({ loopbackOnly: () => true, isRevoked: () => false })
    assert.equal(await lanDevice.denyDialMultiaddr?.(ma('/ip4/127.0.0.1/tcp/4001')), true)
    assert.equal(await lanDevice.denyDialMultiaddr?.(ma('/ip4/198.18.1.2/tcp/4001')), false)
    assert.equal(await lanDevice.denyDialMultiaddr?.(ma('/ip4/0.0.0.0/tcp/4001')), true)
    assert.equal(await demoDevice.denyDialMultiaddr?.(ma('/ip4/127.0.0.1/tcp/4001')), false)
  })
})

describe('sqlite datastore', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('keeps values across reopening and queries by prefix', async () => {
    const path = join(tmp.path, 'ds.db')
    let ds = new SqliteDatastore(path)
    ds.put(new Key('/peers/a'), new Uint8Array([1]))
    ds.put(new Key('/peers/b'), new Uint8Array([2]))
    ds.put(new Key('/dht/x'), new Uint8Array([3]))
    ds.put(new Key('/peers/a'), new Uint8Array([9]))
    ds.close()
    ds = new SqliteDatastore(path)
    assert.deepEqual([...ds.get(new Key('/peers/a'))], [9])
    assert.equal(ds.has(new Key('/dht/x')), true)
    const peers = await all(ds.query({ prefix: '/peers' }))
    assert.deepEqual(peers.map(p => p.key.toString()), ['/peers/a', '/peers/b'])
    assert.deepEqual((await all(ds.queryKeys({ prefix: '/dht' }))).map(String), ['/dht/x'])
    ds.delete(new Key('/peers/a'))
    assert.throws(() => ds.get(new Key('/peers/a')), { name: 'NotFoundError' })
    ds.close()
  })

  it('finishes a query while another query and writes run in between (the peer store does this)', async () => {
    const ds = new SqliteDatastore(join(tmp.path, 'interleaved.db'))
    for (let i = 0; i < 5; i++) ds.put(new Key(`/peers/${i}`), new Uint8Array([i]))
    const seen: string[] = []
    for await (const pair of ds.query({ prefix: '/peers' })) {
      seen.push(pair.key.toString())
      await all(ds.query({ prefix: '/peers' }))
      ds.put(new Key(`/other/${seen.length}`), new Uint8Array([1]))
    }
    assert.deepEqual(seen, ['/peers/0', '/peers/1', '/peers/2', '/peers/3', '/peers/4'])
    ds.close()
  })
})

describe('device key', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('is created once and read back the same', async () => {
    const a = await loadOrCreateDeviceKey(tmp.path)
    const b = await loadOrCreateDeviceKey(tmp.path)
    assert.equal(a.type, 'Ed25519')
    assert.ok(a.equals(b))
  })

  it('refuses a damaged key file instead of silently becoming a new device', async () => {
    const dir = join(tmp.path, 'damaged')
    mkdirSync(dir)
    writeFileSync(join(dir, 'device.key'), 'not a key')
    await assert.rejects(loadOrCreateDeviceKey(dir), { name: 'DeviceKeyError', message: /move it away/ })
  })
})

describe('link kinds of interfaces', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('tells Wi-Fi, USB tethering, Bluetooth and wired apart from sysfs', () => {
    const sys = tmp.path
    const iface = (name: string, extra?: (dir: string) => void): void => {
      mkdirSync(join(sys, name), { recursive: true })
      extra?.(join(sys, name))
    }
    iface('wlan0', d => { mkdirSync(join(d, 'wireless')) })
    iface('usb0', d => {
      mkdirSync(join(d, 'device'))
      mkdirSync(join(sys, 'drivers', 'rndis_host'), { recursive: true })
      symlinkSync(join(sys, 'drivers', 'rndis_host'), join(d, 'device', 'driver'))
    })
    iface('enp3s0', d => {
      mkdirSync(join(d, 'device'))
      mkdirSync(join(sys, 'drivers', 'r8169'), { recursive: true })
      symlinkSync(join(sys, 'drivers', 'r8169'), join(d, 'device', 'driver'))
    })
    iface('bnep0')
    iface('veth1')
    const expected: Record<string, string> = { wlan0: 'wifi', usb0: 'usb', enp3s0: 'wired', bnep0: 'bluetooth', veth1: 'wired', lo: 'loopback', nonexistent: 'unknown' }
    for (const [name, kind] of Object.entries(expected)) assert.equal(linkKindOf(name, sys), kind, name)
  })

  it('finds the interface whose subnet holds an address', () => {
    const ifaces = {
      eth0: [{ address: '198.18.1.1', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '', internal: false, cidr: '198.18.1.1/24' }],
      wlan0: [{ address: '198.18.2.1', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '', internal: false, cidr: '198.18.2.1/24' }]
    }
    assert.equal(interfaceForAddress('198.18.2.77', ifaces), 'wlan0')
    assert.equal(interfaceForAddress('198.18.1.9', ifaces), 'eth0')
    assert.equal(interfaceForAddress('10.0.0.1', ifaces), undefined)
  })
})

describe('data directory', () => {
  it('is --data-dir, else COMPANION_HOME, else XDG_DATA_HOME/companion', () => {
    assert.equal(resolveDataDir('/x/y', { COMPANION_HOME: '/h' }), '/x/y')
    assert.equal(resolveDataDir(undefined, { COMPANION_HOME: '/h', XDG_DATA_HOME: '/d' }), '/h')
    assert.equal(resolveDataDir(undefined, { XDG_DATA_HOME: '/d' }), '/d/companion')
    assert.match(resolveDataDir(undefined, {}), /\.local\/share\/companion$/)
  })
})

describe('power facts', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('reads battery and mains from sysfs, and tells a step change from noise', () => {
    const supply = (name: string, files: Record<string, string>): void => {
      mkdirSync(join(tmp.path, name))
      for (const [file, text] of Object.entries(files)) writeFileSync(join(tmp.path, name, file), `${text}\n`)
    }
    supply('BAT0', { type: 'Battery', capacity: '57', status: 'Discharging' })
    supply('AC', { type: 'Mains', online: '0' })
    assert.deepEqual(readPower(tmp.path), { battery: 57, charging: false, mains: false })
    assert.equal(readPower(join(tmp.path, 'none')), undefined)
    assert.equal(powerChanged({ battery: 57, charging: false }, { battery: 51, charging: false }), false)
    assert.equal(powerChanged({ battery: 57, charging: false }, { battery: 49, charging: false }), true)
    assert.equal(powerChanged({ battery: 57, charging: false }, { battery: 57, charging: true }), true)
  })
})

describe('mDNS answers passed on (node/mdns/discovery.ts)', () => {
  const now = 1_000_000
  it('passes on a device not connected, whatever it said before', () => {
    assert.equal(isNews({ addrs: 'a', at: now }, 'a', false, now), true)
    assert.equal(isNews(undefined, 'a', false, now), true)
  })
  it('drops repeats about a connected device at the same addresses, until MDNS_REPEAT_MS has passed', () => {
    assert.equal(isNews({ addrs: 'a b', at: now - 1_000 }, 'a b', true, now), false)
    assert.equal(isNews({ addrs: 'a b', at: now - MDNS_REPEAT_MS }, 'a b', true, now), true)
  })
  it('passes on new addresses of a connected device at once', () => {
    assert.equal(isNews({ addrs: 'a', at: now }, 'a b', true, now), true)
    assert.equal(isNews(undefined, 'a', true, now), true)
  })
})
