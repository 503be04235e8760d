import { createSocket, type Socket } from 'node:dgram'
import type { NetworkInterfaceInfo } from 'node:os'
import type { Logger } from '@libp2p/interface'
import { localInterfaces } from '../../link/index.ts'
import { MDNS_IPV4_GROUP, MDNS_IPV6_GROUP, MDNS_PORT } from './packets.ts'

/** A packet heard, and where: `iface` is known for IPv6 (the sender's link-local zone). */
export interface Heard { bytes: Buffer, family: 4 | 6, iface?: string }

/** Where to send: one family on one interface, or (none given) everywhere. */
export interface Where { family: 4 | 6, iface: string }

/** One socket per family on port 5353, in the mDNS group on every interface that has that family. */
interface FamilySocket { socket: Socket, group: string, joined: Map<string, { addr: string, index: string }> }

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>

/**
 * Interfaces that can carry mDNS of a family, each with the address that names it to the
 * kernel and its index: an interface unplugged and plugged back (a USB tether) has the same
 * name and maybe the same address, but a new index, and the kernel dropped its memberships.
 */
export function multicastInterfaces (family: 4 | 6, interfaces: Interfaces): Map<string, string> {
  const out = new Map<string, string>()
  for (const [name, addrs] of Object.entries(interfaces)) {
    const addr = (addrs ?? []).find(a => !a.internal && a.family === (family === 4 ? 'IPv4' : 'IPv6'))
    // IPv4 names an interface by an address of it, IPv6 by its name (the scope)
    if (addr != null) out.set(name, family === 4 ? addr.address : `::%${name}`)
  }
  return out
}

/** An interface's index (the scope of its IPv6 addresses), '' when it has none. */
export function interfaceIndex (addrs: NetworkInterfaceInfo[] | undefined): string {
  const v6 = (addrs ?? []).find(a => a.family === 'IPv6' && a.scopeid != null && a.scopeid > 0)
  return v6?.family === 'IPv6' ? String(v6.scopeid) : ''
}

/**
 * mDNS sockets for both families. IPv4 goes out on each interface in turn (the multicast
 * interface is set just before each send); IPv6 names the interface in the destination
 * (ff02::fb%eth0), and a link-local sender's address names the interface it came in on.
 */
export class MdnsSockets {
  private readonly sockets = new Map<4 | 6, FamilySocket>()
  private readonly onHeard: (heard: Heard) => void
  private readonly log: Logger

  constructor (onHeard: (heard: Heard) => void, log: Logger) {
    this.onHeard = onHeard
    this.log = log
  }

  /** Open what the host supports; a family that cannot bind (no IPv6 here) is left out. */
  async open (): Promise<void> {
    await Promise.all(([4, 6] as const).map(async family => {
      const socket = createSocket({
        type: family === 4 ? 'udp4' : 'udp6',
        reuseAddr: true,
        ipv6Only: family === 6,
        // addresses here are literals: answered at once, so a send leaves within send() and
        // on the multicast interface set just before it (dns.lookup would answer a tick later)
        lookup: (host, _options, callback) => { callback(null, host, family) }
      })
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject)
          socket.bind(MDNS_PORT, family === 4 ? '0.0.0.0' : '::', () => { socket.off('error', reject); resolve() })
        })
      } catch (err) {
        this.log('no mDNS over IPv%d here - %e', family, err)
        socket.close()
        return
      }
      socket.on('error', (err) => { this.log.error('mDNS socket (IPv%d) - %e', family, err) })
      socket.on('message', (bytes, rinfo) => {
        const zone = family === 6 ? rinfo.address.split('%')[1] : undefined
        this.onHeard({ bytes, family, iface: zone })
      })
      socket.setMulticastTTL(255)
      this.sockets.set(family, { socket, group: family === 4 ? MDNS_IPV4_GROUP : MDNS_IPV6_GROUP, joined: new Map() })
    }))
    this.refresh()
  }

  /** Join the group on interfaces that appeared or came back, forget those that went. */
  refresh (interfaces: Interfaces = localInterfaces(true)): void {
    for (const [family, fs] of this.sockets) {
      const now = multicastInterfaces(family, interfaces)
      for (const [name, was] of fs.joined) {
        if (now.get(name) === was.addr && interfaceIndex(interfaces[name]) === was.index) continue
        try { fs.socket.dropMembership(fs.group, was.addr) } catch {}
        fs.joined.delete(name)
      }
      for (const [name, addr] of now) {
        if (fs.joined.has(name)) continue
        try {
          fs.socket.addMembership(fs.group, addr)
          fs.joined.set(name, { addr, index: interfaceIndex(interfaces[name]) })
        } catch (err) {
          this.log('cannot join mDNS on %s (IPv%d) - %e', name, family, err)
        }
      }
    }
  }

  /** The interfaces each family's group was joined on. */
  interfaces (family: 4 | 6): string[] {
    return [...(this.sockets.get(family)?.joined.keys() ?? [])]
  }

  send (bytes: Buffer, where?: Where): void {
    for (const [family, fs] of this.sockets) {
      if (where != null && where.family !== family) continue
      for (const [name, { addr }] of fs.joined) {
        if (where != null && where.iface !== name) continue
        try {
          if (family === 4) {
            fs.socket.setMulticastInterface(addr)
            fs.socket.send(bytes, MDNS_PORT, fs.group)
          } else {
            fs.socket.send(bytes, MDNS_PORT, `${fs.group}%${name}`)
          }
        } catch (err) {
          this.log('cannot send mDNS on %s (IPv%d) - %e', name, family, err)
        }
      }
    }
  }

  close (): void {
    for (const fs of this.sockets.values()) {
      for (const { addr } of fs.joined.values()) {
        try { fs.socket.dropMembership(fs.group, addr) } catch {}
      }
      fs.socket.close()
    }
    this.sockets.clear()
  }
}
