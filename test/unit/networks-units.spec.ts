import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NetworkInterfaceInfo } from 'node:os'
import { encode } from 'dns-packet'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ANSWER_MAX_ADDRS, ANSWER_MAX_BYTES, answerPacket, asksFor, queryPacket, readAnswer } from '../../node/mdns/packets.ts'
import { interfaceIndex, multicastInterfaces } from '../../node/mdns/sockets.ts'
import { isLinkLocalV6, linkLocalAddresses, listenPorts } from '../../node/address-policy.ts'
import { interfaceOf, ipOf, linkKindOf } from '../../link/link-kind.ts'
import { listenAddresses } from '../../daemon/ports.ts'
import { tempDir } from '../../testbed/index.ts'

const TAG = '_companion._udp.local'
const ma = (s: string): ReturnType<typeof multiaddr> => multiaddr(s)
const peer = async (): Promise<ReturnType<typeof peerIdFromPrivateKey>> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

function info (address: string, cidr: string, internal = false): NetworkInterfaceInfo {
  const family = address.includes(':') ? 'IPv6' : 'IPv4'
  return family === 'IPv6'
    ? { address, cidr, netmask: 'ffff:ffff:ffff:ffff::', family, mac: '', internal, scopeid: 0 }
    : { address, cidr, netmask: '255.255.255.0', family, mac: '', internal }
}

const IFACES = {
  lo: [info('127.0.0.1', '127.0.0.1/8', true), info('::1', '::1/128', true)],
  eth0: [info('198.18.1.1', '198.18.1.1/24'), info('fd18:1::1', 'fd18:1::1/64'), info('fe80::1', 'fe80::1/64')],
  wlan0: [info('169.254.7.7', '169.254.0.0/16'), info('fe80::2', 'fe80::2/64')]
}

describe('mDNS packets (node/mdns/packets.ts)', () => {
  it('answers a question for our service only', () => {
    assert.equal(asksFor(queryPacket(TAG), TAG), true)
    assert.equal(asksFor(queryPacket('_other._udp.local'), TAG), false)
    assert.equal(asksFor(Buffer.from('not dns at all'), TAG), false)
    assert.equal(asksFor(Buffer.alloc(20_000), TAG), false, 'oversized packets are not decoded')
  })

  it('reads back what it writes; a link-local address gets the interface it was heard on as its zone', async () => {
    const id = await peer()
    const packet = answerPacket(TAG, 'them', id, [ma('/ip6/fe80::9/tcp/4001'), ma('/ip4/198.18.1.2/tcp/4001'), ma('/ip6/fd18:1::2/tcp/4001')])
    const heard = readAnswer(packet, TAG, 'us', 'eth1')
    assert.equal(heard?.id.toString(), id.toString())
    assert.deepEqual(heard?.multiaddrs.map(a => a.toString()), ['/ip6zone/eth1/ip6/fe80::9/tcp/4001', '/ip4/198.18.1.2/tcp/4001', '/ip6/fd18:1::2/tcp/4001'])
  })

  it('drops a link-local address heard with no interface (IPv4) and replaces a zone the sender wrote', async () => {
    const id = await peer()
    const packet = answerPacket(TAG, 'them', id, [ma('/ip6/fe80::9/tcp/4001'), ma('/ip6zone/theirs/ip6/fe80::8/tcp/4001'), ma('/ip4/198.18.1.2/tcp/4001')])
    assert.deepEqual(readAnswer(packet, TAG, 'us')?.multiaddrs.map(a => a.toString()), ['/ip4/198.18.1.2/tcp/4001'])
    assert.deepEqual(readAnswer(packet, TAG, 'us', 'eth0')?.multiaddrs.map(a => a.toString()), ['/ip6zone/eth0/ip6/fe80::9/tcp/4001', '/ip6zone/eth0/ip6/fe80::8/tcp/4001', '/ip4/198.18.1.2/tcp/4001'])
  })

  it('ignores our own answer, other services, and addresses that are not plain TCP or name another device', async () => {
    const id = await peer()
    const other = await peer()
    const ours = answerPacket(TAG, 'us', id, [ma('/ip4/198.18.1.2/tcp/4001')])
    assert.equal(readAnswer(ours, TAG, 'us'), undefined)
    assert.equal(readAnswer(answerPacket('_x._udp.local', 'them', id, [ma('/ip4/198.18.1.2/tcp/4001')]), TAG, 'us'), undefined)
    const instance = `them.${TAG}`
    const txt = (data: string): { name: string, type: 'TXT', class: 'IN', ttl: number, data: string } => ({ name: instance, type: 'TXT', class: 'IN', ttl: 120, data })
    const mixed = encode({
      type: 'response',
      answers: [
        { name: TAG, type: 'PTR', class: 'IN', ttl: 120, data: instance },
        txt(`dnsaddr=/ip4/198.18.1.2/tcp/4001/p2p/${id.toString()}`),
        txt(`dnsaddr=/ip4/198.18.1.3/tcp/4001/p2p/${other.toString()}`),
        txt(`dnsaddr=/dns4/example.com/tcp/4001/p2p/${id.toString()}`),
        txt(`dnsaddr=/ip4/198.18.1.2/udp/4001/quic-v1/p2p/${id.toString()}`),
        txt(`dnsaddr=/ip4/198.18.1.4/tcp/4001/p2p/${id.toString()}/p2p-circuit/p2p/${other.toString()}`),
        txt('dnsaddr=/ip4/not-an-address'),
        txt(`dnsaddr=/ip4/198.18.1.2/tcp/4002/p2p/${id.toString()}`)
      ]
    })
    const heard = readAnswer(mixed, TAG, 'us')
    assert.equal(heard?.id.toString(), id.toString())
    assert.deepEqual(heard?.multiaddrs.map(a => a.toString()), ['/ip4/198.18.1.2/tcp/4001', '/ip4/198.18.1.2/tcp/4002'])
  })

  it('takes at most ANSWER_MAX_ADDRS addresses from one answer', async () => {
    const id = await peer()
    const instance = `them.${TAG}`
    const many = encode({
      type: 'response',
      answers: [
        { name: TAG, type: 'PTR', class: 'IN', ttl: 120, data: instance },
        ...Array.from({ length: 60 }, (_, i) => ({ name: instance, type: 'TXT' as const, class: 'IN' as const, ttl: 120, data: `dnsaddr=/ip4/10.0.${i >> 8}.${i & 255}/tcp/1/p2p/${id.toString()}` }))
      ]
    })
    assert.equal(readAnswer(many, TAG, 'us')?.multiaddrs.length, ANSWER_MAX_ADDRS)
  })

  it('writes an answer that fits one frame, however many addresses there are', async () => {
    const id = await peer()
    const addrs = Array.from({ length: 100 }, (_, i) => ma(`/ip6/fd18:1::${i.toString(16)}/tcp/4001`))
    const packet = answerPacket(TAG, 'them', id, addrs)
    assert.ok(packet.length <= ANSWER_MAX_BYTES, `${packet.length} bytes`)
    const heard = readAnswer(packet, TAG, 'us')
    assert.ok((heard?.multiaddrs.length ?? 0) >= 5, 'as many as fit, the first first')
    assert.equal(heard?.multiaddrs[0]?.toString(), '/ip6/fd18:1::0/tcp/4001'.replace('::0', '::'))
  })
})

describe('addresses of every network', () => {
  it('knows link-local IPv6 (fe80::/10) from everything else', () => {
    for (const ip of ['fe80::1', 'FE80::abcd', 'febf::1']) assert.equal(isLinkLocalV6(ip), true, ip)
    for (const ip of ['fec0::1', 'fd18:1::1', '2001:db8::1', '::1']) assert.equal(isLinkLocalV6(ip), false, ip)
  })

  it('lists the link-local addresses libp2p leaves out: fe80:: with its zone, and 169.254/16', () => {
    const got = linkLocalAddresses(IFACES, { 4: '4001', 6: '4001' }).map(a => a.toString())
    assert.deepEqual(got, ['/ip6zone/eth0/ip6/fe80::1/tcp/4001', '/ip4/169.254.7.7/tcp/4001', '/ip6zone/wlan0/ip6/fe80::2/tcp/4001'])
    assert.deepEqual(linkLocalAddresses(IFACES, { 4: '4001' }).map(a => a.toString()), ['/ip4/169.254.7.7/tcp/4001'], 'no IPv6 listener, no IPv6 address')
  })

  it('finds the port of each family, skipping port 0', () => {
    assert.deepEqual(listenPorts([ma('/ip4/0.0.0.0/tcp/0'), ma('/ip4/198.18.1.1/tcp/4001'), ma('/ip6/::/tcp/4002'), ma('/p2p-circuit')]), { 4: '4001', 6: '4002' })
    assert.deepEqual(listenAddresses(4001), ['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001'], 'one port, both families')
  })

  it('reads the zone of a link-local address, and takes it as the interface only if it is ours', () => {
    assert.deepEqual(ipOf(ma('/ip6zone/eth0/ip6/fe80::1/tcp/1')), { family: 6, ip: 'fe80::1', zone: 'eth0' })
    assert.deepEqual(ipOf(ma('/ip6/fd18:1::1/tcp/1')), { family: 6, ip: 'fd18:1::1' })
    assert.equal(interfaceOf(ma('/ip6zone/wlan0/ip6/fe80::9/tcp/1'), IFACES), 'wlan0')
    assert.equal(interfaceOf(ma('/ip6zone/theirs/ip6/fe80::9/tcp/1'), IFACES), undefined, 'another device\'s interface name means nothing here')
    assert.equal(interfaceOf(ma('/ip6/fd18:1::9/tcp/1'), IFACES), 'eth0', 'ULA by subnet')
    assert.equal(interfaceOf(ma('/ip4/198.18.1.9/tcp/1'), IFACES), 'eth0', 'IPv4 and IPv6 over one interface are one link')
  })

  it('joins mDNS on every interface of a family: IPv4 by an address of it, IPv6 by its name', () => {
    assert.deepEqual([...multicastInterfaces(4, IFACES)], [['eth0', '198.18.1.1'], ['wlan0', '169.254.7.7']])
    assert.deepEqual([...multicastInterfaces(6, IFACES)], [['eth0', '::%eth0'], ['wlan0', '::%wlan0']])
  })

  it('tells an interface plugged back in from the one before it by its index (the scope of its fe80:: address)', () => {
    const before = [info('198.18.1.1', '198.18.1.1/24'), { ...info('fe80::1', 'fe80::1/64'), scopeid: 7 }]
    const after = [info('198.18.1.1', '198.18.1.1/24'), { ...info('fe80::1', 'fe80::1/64'), scopeid: 9 }]
    assert.equal(interfaceIndex(before), '7')
    assert.notEqual(interfaceIndex(after), interfaceIndex(before))
    assert.equal(interfaceIndex([info('198.18.1.1', '198.18.1.1/24')]), '', 'no IPv6, no index')
  })

  it('classifies VPN interfaces (WireGuard, Tailscale, tun) as their own kind, ranked below the LAN', () => {
    const tmp = tempDir()
    try {
      for (const name of ['wg0', 'tailscale0', 'tun0', 'corp']) mkdirSync(join(tmp.path, name))
      writeFileSync(join(tmp.path, 'corp', 'type'), '65534\n')
      for (const name of ['wg0', 'tailscale0', 'tun0', 'corp']) assert.equal(linkKindOf(name, tmp.path), 'vpn', name)
    } finally {
      tmp.cleanup()
    }
  })
})
