import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

/**
 * A LAN of network namespaces, one per device, built for a test and always torn down.
 *
 *   subnet a  198.18.1.0/24  bridge br0   every device's eth0 ("Ethernet"; carries mDNS)
 *   subnet b  198.18.2.0/24  bridge br1   every device's eth1 ("Wi-Fi"), when links = 2
 *   subnet c  198.18.3.0/24  bridge br2   devices of the second subnet, behind a router
 *
 * `addressing` picks the families: IPv4 as above (the default); `dual` adds ULA IPv6
 * (fd18:1::<n>/64 on a, fd18:2::<n>/64 on b); `ula` has only those; `link-local` has no address
 * but the fe80:: one the kernel gives every interface (two machines joined by a cable).
 *
 * The router namespace sits on br0 (198.18.1.254) and br2 (198.18.3.254) and forwards; it does
 * not forward multicast, so mDNS never crosses from one subnet to the other. Nothing here
 * touches the host's own interfaces: every link lives between namespaces we created.
 */

export type LinkName = 'a' | 'b' | 'c'

export interface LanInit {
  /** Devices on subnet a (and b, with two links). */
  devices: number
  /** @default 2 */
  links?: 1 | 2
  /** Devices only on subnet c, reached through the router. */
  remoteDevices?: number
  /** Devices (1-based indices among `devices`) that also sit on subnet c, the stepping stones. */
  dualHomed?: number[]
  /** Route between subnets a and c (a router namespace). Without it only a dual-homed device joins them. @default true */
  routed?: boolean
  /** @default 'ipv4' */
  addressing?: Addressing
}

export type Addressing = 'ipv4' | 'dual' | 'ula' | 'link-local'

export interface Host {
  /** 1-based index; remote devices come after the LAN devices. */
  index: number
  ns: string
  /** This host's IPv4 address on each subnet it sits on (none when the LAN has no IPv4). */
  addrs: Partial<Record<LinkName, string>>
  /** This host's ULA IPv6 address on each subnet (with `dual` and `ula` addressing). */
  addrs6: Partial<Record<LinkName, string>>
  /** Interface name per subnet. */
  ifaces: Partial<Record<LinkName, string>>
  /** Routes the harness added, restored when their interface comes back up. */
  routes: Array<{ dev: string, args: string[] }>
}

const SUBNET: Record<LinkName, string> = { a: '198.18.1', b: '198.18.2', c: '198.18.3' }
const SUBNET6: Record<LinkName, string> = { a: 'fd18:1:', b: 'fd18:2:', c: 'fd18:3:' }
const BRIDGE: Record<LinkName, string> = { a: 'br0', b: 'br1', c: 'br2' }
const ROUTER = 254
const PREFIX = 'cl'

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function inNs (ns: string, ...args: string[]): void {
  ip('-n', ns, ...args)
}

function sysctl (ns: string, ...settings: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings], { stdio: ['ignore', 'ignore', 'pipe'] })
}

const live = new Set<Lan>()
let counter = 0

/** Namespaces are named `cl<pid>x<n>-...`: ones whose creator is gone are leftovers of a crash. */
export function sweepStaleNamespaces (): void {
  if (!existsSync('/run/netns')) return
  for (const ns of readdirSync('/run/netns')) {
    const m = /^cl(\d+)x\d+-/.exec(ns)
    if (m == null) continue
    const pid = Number(m[1])
    let alive = pid === process.pid
    if (!alive) {
      try {
        process.kill(pid, 0)
        alive = true
      } catch {}
    }
    if (!alive) deleteNamespace(ns)
  }
}

function killNamespacePids (ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split(/\s+/).filter(Boolean).map(Number)
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  } catch {}
}

function deleteNamespace (ns: string): void {
  killNamespacePids(ns)
  try { ip('netns', 'del', ns) } catch {}
}

export class Lan {
  readonly id: string
  readonly hosts: Host[] = []
  private addressing: Addressing = 'ipv4'
  private readonly namespaces: string[] = []
  private readonly bridgeNs: string
  private readonly routerNs: string

  private constructor () {
    this.id = `${PREFIX}${process.pid}x${++counter}`
    this.bridgeNs = `${this.id}-br`
    this.routerNs = `${this.id}-rt`
  }

  /** Build the LAN; on any failure, whatever was made is removed again. */
  static create (init: LanInit): Lan {
    sweepStaleNamespaces()
    const lan = new Lan()
    live.add(lan)
    try {
      lan.build(init)
    } catch (err) {
      lan.destroy()
      throw new Error(`could not build the test LAN (root and iproute2 are needed): ${(err as Error & { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message}`)
    }
    return lan
  }

  private addNamespace (ns: string): void {
    ip('netns', 'add', ns)
    this.namespaces.push(ns)
    inNs(ns, 'link', 'set', 'lo', 'up')
    // IPv6 addresses usable at once (no duplicate detection wait), and kept while a cable is out
    sysctl(ns, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.keep_addr_on_down=1', 'net.ipv6.conf.default.keep_addr_on_down=1')
  }

  /** A veth from `ns` (named `iface`) into `bridge` of the bridge namespace. */
  private plug (ns: string, iface: string, link: LinkName, host: number): void {
    const peer = `${link}${host}`
    inNs(this.bridgeNs, 'link', 'add', peer, 'type', 'veth', 'peer', 'name', iface, 'netns', ns)
    inNs(this.bridgeNs, 'link', 'set', peer, 'master', BRIDGE[link], 'up')
    if (this.addressing === 'ipv4' || this.addressing === 'dual') inNs(ns, 'addr', 'add', `${SUBNET[link]}.${host}/24`, 'dev', iface)
    if (this.addressing === 'ula' || this.addressing === 'dual') inNs(ns, 'addr', 'add', `${SUBNET6[link]}:${host}/64`, 'dev', iface, 'nodad')
    inNs(ns, 'link', 'set', iface, 'up')
  }

  private build (init: LanInit): void {
    const links = init.links ?? 2
    const remote = init.remoteDevices ?? 0
    const needC = remote > 0 || (init.dualHomed ?? []).length > 0
    const routed = needC && init.routed !== false
    this.addressing = init.addressing ?? 'ipv4'
    if (needC && this.addressing !== 'ipv4') throw new Error('subnet c (the router) is IPv4 only')
    this.addNamespace(this.bridgeNs)
    for (const link of ['a', 'b', 'c'] as LinkName[]) {
      inNs(this.bridgeNs, 'link', 'add', BRIDGE[link], 'type', 'bridge')
      // forward immediately: no STP listening delay on a fresh port
      inNs(this.bridgeNs, 'link', 'set', BRIDGE[link], 'type', 'bridge', 'forward_delay', '0')
      // no MLD querier here: with snooping, IPv6 multicast (mDNS on ff02::fb) would not be flooded
      inNs(this.bridgeNs, 'link', 'set', BRIDGE[link], 'type', 'bridge', 'mcast_snooping', '0')
      inNs(this.bridgeNs, 'link', 'set', BRIDGE[link], 'up')
    }
    if (routed) {
      this.addNamespace(this.routerNs)
      this.plug(this.routerNs, 'r0', 'a', ROUTER)
      this.plug(this.routerNs, 'r2', 'c', ROUTER)
      sysctl(this.routerNs, 'net.ipv4.ip_forward=1')
    }
    for (let i = 1; i <= init.devices + remote; i++) {
      const ns = `${this.id}-d${i}`
      this.addNamespace(ns)
      const host: Host = { index: i, ns, addrs: {}, addrs6: {}, ifaces: {}, routes: [] }
      const onLan = i <= init.devices
      const plugged: LinkName[] = onLan ? (links === 2 ? ['a', 'b'] : ['a']) : ['c']
      if (onLan && (init.dualHomed ?? []).includes(i)) plugged.push('c')
      plugged.forEach((link, n) => {
        const iface = `eth${n}`
        this.plug(ns, iface, link, i)
        if (this.addressing === 'ipv4' || this.addressing === 'dual') host.addrs[link] = `${SUBNET[link]}.${i}`
        if (this.addressing === 'ula' || this.addressing === 'dual') host.addrs6[link] = `${SUBNET6[link]}:${i}`
        host.ifaces[link] = iface
      })
      // without a multicast route the kernel has nowhere to send mDNS
      if (this.addressing === 'ipv4' || this.addressing === 'dual') this.addRoute(host, 'eth0', '224.0.0.0/4', 'dev', 'eth0')
      if (routed) {
        if (!onLan) this.addRoute(host, 'eth0', 'default', 'via', `${SUBNET.c}.${ROUTER}`)
        else if (!plugged.includes('c')) this.addRoute(host, 'eth0', `${SUBNET.c}.0/24`, 'via', `${SUBNET.a}.${ROUTER}`)
      }
      this.hosts.push(host)
    }
  }

  host (index: number): Host {
    const host = this.hosts[index - 1]
    if (host == null) throw new Error(`the LAN has no host ${index}`)
    return host
  }

  /**
   * Cut or restore one link of a host, as pulling a cable or losing Wi-Fi would. The kernel
   * flushes IPv4 routes through an interface that goes down; like a network manager, putting
   * it back up restores them.
   */
  setLink (index: number, link: LinkName, up: boolean): void {
    const host = this.host(index)
    const iface = host.ifaces[link]
    if (iface == null) throw new Error(`host ${index} has no link ${link}`)
    inNs(host.ns, 'link', 'set', iface, up ? 'up' : 'down')
    if (up) for (const route of host.routes.filter(r => r.dev === iface)) inNs(host.ns, 'route', 'replace', ...route.args)
  }

  /**
   * Unplug one link of a host, as pulling a USB tether out removes its interface altogether;
   * `plugBack` makes it again (same name and addresses, a new interface to the kernel).
   */
  unplug (index: number, link: LinkName): void {
    this.iface(index, link)
    inNs(this.bridgeNs, 'link', 'del', `${link}${index}`)
  }

  plugBack (index: number, link: LinkName): void {
    const { ns, iface } = this.iface(index, link)
    this.plug(ns, iface, link, index)
    for (const route of this.host(index).routes.filter(r => r.dev === iface)) inNs(ns, 'route', 'replace', ...route.args)
  }

  /**
   * Limit what one link of a host sends to `rate` (tc's token bucket, e.g. `16mbit`), as a slow
   * Wi-Fi would; `undefined` lifts the limit.
   */
  limit (index: number, link: LinkName, rate: string | undefined): void {
    const host = this.host(index)
    const iface = host.ifaces[link]
    if (iface == null) throw new Error(`host ${index} has no link ${link}`)
    if (rate == null) execFileSync('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'del', 'dev', iface, 'root'])
    else execFileSync('ip', ['netns', 'exec', host.ns, 'tc', 'qdisc', 'replace', 'dev', iface, 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '200ms'])
  }

  /** The fe80:: address the kernel gave one link of a host. */
  linkLocal (index: number, link: LinkName): string {
    const { ns, iface } = this.iface(index, link)
    const [info] = JSON.parse(execFileSync('ip', ['-n', ns, '-6', '-j', 'addr', 'show', 'dev', iface, 'scope', 'link'], { encoding: 'utf8' })) as Array<{ addr_info: Array<{ local: string }> }>
    const local = info?.addr_info[0]?.local
    if (local == null) throw new Error(`host ${index} has no link-local address on ${iface}`)
    return local
  }

  /**
   * Add or remove an address of one link of a host (`198.18.1.9/24`, `fd18:1::9/64`), as DHCP,
   * SLAAC or a roaming Wi-Fi would; the host's recorded addresses follow.
   */
  address (index: number, link: LinkName, change: 'add' | 'del', cidr: string): void {
    const { ns, iface } = this.iface(index, link)
    const v6 = cidr.includes(':')
    inNs(ns, 'addr', change, cidr, 'dev', iface, ...(v6 && change === 'add' ? ['nodad'] : []))
    const host = this.host(index)
    const addr = cidr.split('/')[0]
    const table = v6 ? host.addrs6 : host.addrs
    if (change === 'add') table[link] = addr
    else if (table[link] === addr) delete table[link]
    if (!v6 && change === 'add' && link === 'a' && !host.routes.some(r => r.args[0] === '224.0.0.0/4')) this.addRoute(host, 'eth0', '224.0.0.0/4', 'dev', 'eth0')
  }

  private iface (index: number, link: LinkName): { ns: string, iface: string } {
    const host = this.host(index)
    const iface = host.ifaces[link]
    if (iface == null) throw new Error(`host ${index} has no link ${link}`)
    return { ns: host.ns, iface }
  }

  /** Bytes one link of a host has received so far (the kernel's count). */
  received (index: number, link: LinkName): number {
    const host = this.host(index)
    const iface = host.ifaces[link]
    if (iface == null) throw new Error(`host ${index} has no link ${link}`)
    const [info] = JSON.parse(execFileSync('ip', ['-n', host.ns, '-s', '-j', 'link', 'show', iface], { encoding: 'utf8' })) as Array<{ stats64: { rx: { bytes: number } } }>
    return info?.stats64.rx.bytes ?? 0
  }

  private addRoute (host: Host, dev: string, ...args: string[]): void {
    inNs(host.ns, 'route', 'add', ...args)
    host.routes.push({ dev, args })
  }

  /** Kill everything running in our namespaces and delete them. Safe to call twice. */
  destroy (): void {
    for (const ns of this.namespaces.reverse()) deleteNamespace(ns)
    this.namespaces.length = 0
    live.delete(this)
  }
}

/** Tear down every LAN still standing: on exit, Ctrl-C, or an uncaught failure. */
export function destroyAllLans (): void {
  for (const lan of [...live]) lan.destroy()
}

process.once('exit', destroyAllLans)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    destroyAllLans()
    process.exit(130)
  })
}
