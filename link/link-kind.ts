import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { basename, join } from 'node:path'
import { BlockList, isIPv4 } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { LinkKind } from './link-types.ts'

/** A link's kind: how it reaches the other device, by the local interface it leaves from. */

/** Predetermined rank by link kind: wired/USB > Wi-Fi > VPN > Bluetooth PAN > relayed. */
export const PREDETERMINED_RANK: Readonly<Record<LinkKind, number>> = {
  loopback: 100,
  wired: 100,
  usb: 90,
  unknown: 50,
  wifi: 60,
  vpn: 40,
  bluetooth: 30,
  relayed: 10
}

/** USB network drivers that phones use for tethering (RNDIS, CDC ECM/NCM, Apple). */
const USB_TETHER_DRIVERS = new Set(['rndis_host', 'cdc_ether', 'cdc_ncm', 'cdc_eem', 'ipheth'])

/** The IP address a multiaddr starts with (`/ip4/…`, `/ip6/…`, or `/ip6zone/<iface>/ip6/…`), if it does. */
export function ipOf (ma: Multiaddr): { family: 4 | 6, ip: string, zone?: string } | undefined {
  const [first, second] = ma.getComponents()
  if (first?.value == null) return undefined
  if (first.code === 4) return { family: 4, ip: first.value }
  if (first.code === 41) return { family: 6, ip: first.value }
  // a link-local address names the interface it is reached through: the zone
  if (first.code === 42 && second?.code === 41 && second.value != null) return { family: 6, ip: second.value, zone: first.value }
  return undefined
}

/** Tunnel interfaces (WireGuard, Tailscale, OpenVPN's tun) have no link layer: sysfs type 65534. */
const VPN_PREFIXES = ['wg', 'tailscale', 'tun', 'utun', 'zt']
const ARPHRD_NONE = '65534'

function isVpn (name: string, dir: string): boolean {
  if (VPN_PREFIXES.some(p => name.startsWith(p))) return true
  try {
    return readFileSync(join(dir, 'type'), 'utf8').trim() === ARPHRD_NONE
  } catch {
    return false
  }
}

/** Classify a Linux interface from sysfs. `sysfs` is a parameter so tests can give a fake tree. */
export function linkKindOf (name: string, sysfs = '/sys/class/net'): LinkKind {
  if (name === 'lo') return 'loopback'
  const dir = join(sysfs, name)
  if (!existsSync(dir)) return 'unknown'
  if (existsSync(join(dir, 'wireless')) || existsSync(join(dir, 'phy80211'))) return 'wifi'
  if (name.startsWith('bnep')) return 'bluetooth'
  if (isVpn(name, dir)) return 'vpn'
  try {
    const driver = basename(readlinkSync(join(dir, 'device', 'driver')))
    if (USB_TETHER_DRIVERS.has(driver)) return 'usb'
  } catch {
    // virtual interfaces (veth, bridges) have no driver link: treat as wired
  }
  return 'wired'
}

/**
 * os.networkInterfaces() is a netlink dump (a socket, several messages) and a copy of every
 * address: read at most every 2 s, by whoever asks first. The node's network watcher reads it
 * fresh every 2 s anyway, so links rarely read it themselves (measured idle: two to three dumps
 * a second before, the largest part of an idle daemon's system calls).
 */
const INTERFACES_TTL_MS = 2_000
let cachedInterfaces: { at: number, value: NodeJS.Dict<NetworkInterfaceInfo[]> } | undefined

/** This host's interfaces and addresses: at most INTERFACES_TTL_MS old, or read now if `fresh`. */
export function localInterfaces (fresh = false): NodeJS.Dict<NetworkInterfaceInfo[]> {
  const now = Date.now()
  if (fresh || cachedInterfaces == null || now - cachedInterfaces.at > INTERFACES_TTL_MS) cachedInterfaces = { at: now, value: networkInterfaces() }
  return cachedInterfaces.value
}

/** The local interface whose subnet holds `ip`: the one a direct link to it leaves from. */
export function interfaceForAddress (ip: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = localInterfaces()): string | undefined {
  const family = isIPv4(ip) ? 'ipv4' : 'ipv6'
  for (const [name, addrs] of Object.entries(interfaces)) {
    for (const addr of addrs ?? []) {
      if (addr.cidr == null || addr.family !== (family === 'ipv4' ? 'IPv4' : 'IPv6')) continue
      const [net, prefix] = addr.cidr.split('/')
      const list = new BlockList()
      list.addSubnet(net ?? '', Number(prefix), family)
      if (list.check(ip, family)) return name
    }
  }
  return undefined
}

/** The local interface a path to `ma` leaves from: its zone for a link-local address, else by subnet. */
export function interfaceOf (ma: Multiaddr, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = localInterfaces()): string | undefined {
  const addr = ipOf(ma)
  if (addr == null) return undefined
  // a zone is only ours to use if it names one of our interfaces (another device may send anything)
  if (addr.zone != null) return interfaces[addr.zone] != null ? addr.zone : undefined
  return interfaceForAddress(addr.ip, interfaces)
}

/**
 * The local interface a connection that just opened to `ma` leaves from. It exists, so a miss
 * means the shared copy predates it (libuv lists only interfaces that are up: one that has
 * just come back is missing for up to 2 s): read again. A link given no interface would rank
 * as `unknown` for good, below the Wi-Fi it should take over from.
 */
export function interfaceOfNewConnection (ma: Multiaddr): string | undefined {
  return interfaceOf(ma) ?? interfaceOf(ma, localInterfaces(true))
}
