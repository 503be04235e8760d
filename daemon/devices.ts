import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { KnownDevice, ProfileBook, SelfDescription } from '../node/index.ts'
import type { LinkManager } from '../link/index.ts'
import { AmbiguousDeviceError, UnknownDeviceError } from './errors.ts'
import type { DeviceEntry, LinkSummary } from './control/types.ts'

export type { DeviceEntry, LinkSummary }

export interface DeviceDirectoryInit {
  libp2p: Libp2p
  book: ProfileBook
  self(): SelfDescription
  /** The link manager: the active link of a member device. */
  links: LinkManager
}

/** Plain code-point order: stable, and no locale tables for a listing. */
const byText = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/** Every device this one knows: itself, and every device that ever told us its info. */
export class DeviceDirectory {
  private readonly libp2p: Libp2p
  private readonly book: ProfileBook
  private readonly self: () => SelfDescription
  private readonly links: LinkManager

  constructor (init: DeviceDirectoryInit) {
    this.libp2p = init.libp2p
    this.book = init.book
    this.self = init.self
    this.links = init.links
  }

  async list (): Promise<DeviceEntry[]> {
    const info = this.self()
    const self: DeviceEntry = {
      id: this.libp2p.peerId.toString(),
      name: info.name,
      kind: info.kind,
      relation: 'self',
      online: true,
      capabilities: info.capabilities.map(c => c.name),
      link: null,
      addresses: this.libp2p.getMultiaddrs().map(ma => ma.toString())
    }
    const others = this.book.all().map(known => this.entry(known)).sort((a, b) => byText(a.name, b.name) || byText(a.id, b.id))
    return [self, ...others]
  }

  /** Resolve a `<device>` argument: a name, a device id, or a unique prefix of an id. */
  async find (query: string): Promise<DeviceEntry> {
    const all = await this.list()
    const exact = all.filter(d => d.id === query || d.name === query)
    if (exact.length === 1 && exact[0] != null) return exact[0]
    if (exact.length > 1) throw new AmbiguousDeviceError(`${exact.length} devices are called "${query}"; use the device id`)
    const prefixed = all.filter(d => d.id.startsWith(query))
    if (prefixed.length === 1 && prefixed[0] != null) return prefixed[0]
    if (prefixed.length > 1) throw new AmbiguousDeviceError(`"${query}" is the start of ${prefixed.length} device ids; give more of it`)
    throw new UnknownDeviceError(`no known device is called or has an id starting with "${query}"; see companion devices`)
  }

  /** A device that has shown a valid profile; others (never verified) are not listed. */
  private entry (known: KnownDevice): DeviceEntry {
    const relation = this.book.relation(known.id)
    const conns = this.openConnections(peerIdFromString(known.id))
    // the active link of a member; for other devices the best-ranked connection
    const link = this.links.links(known.id).sort((a, b) => Number(b.active) - Number(a.active) || b.rank - a.rank)[0]
    const sim = relation === 'member' ? known.profile.capabilities.find(c => c.name === 'sms.send')?.sim : undefined
    const best = link == null ? null : { id: link.id, kind: link.kind, rank: link.rank, rttMs: link.rttMs, remote: link.remote }
    return {
      id: known.id,
      name: known.profile.name,
      kind: known.profile.kind,
      relation,
      online: conns.length > 0,
      // what a device outside the account can do is none of our business (and it does not tell)
      capabilities: relation === 'member' ? known.profile.capabilities.map(c => c.name) : [],
      link: best,
      addresses: known.addresses,
      ...(sim == null ? {} : { sim })
    }
  }

  private openConnections (peerId: PeerId): Connection[] {
    return this.libp2p.getConnections(peerId).filter(conn => conn.status === 'open')
  }
}
