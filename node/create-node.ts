import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { connectionStack, dialTimeouts, lanTcp } from './stack.ts'
import { identify, identifyPush, type Identify, type IdentifyPush } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, removePublicAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { logger } from '@libp2p/logger'
import type { PeerId, PeerInfo, PrivateKey } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { announceable, dialPolicyGater, isLoopback, linkLocalAddresses, listenPorts, relayGater } from './address-policy.ts'
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { MemberRelays } from './member-relays.ts'
import { CONNECTION_PING_INTERVAL_MS, CONNECTION_PING_TIMEOUT_MS, DHT_PROTOCOL, MAX_INCOMING_PENDING_CONNECTIONS, DHT_QUERY_SELF_INTERVAL_MS, MDNS_INTERVAL_MS, MDNS_SERVICE_TAG, NODE_DB_FILE } from './constants.ts'
import { DhtIntroductions } from './dht-introductions.ts'
import { deviceDialer, type DeviceDialer } from './device-dialer.ts'
import { NetworkWatcher } from './network-watcher.ts'
import { companionMdns, type MdnsDiscovery } from './mdns/discovery.ts'
import { SqliteDatastore } from './sqlite-datastore.ts'
import type { AccountStore } from './identity/account.ts'
import { DHT_KEY_PREFIX } from './identity/constants.ts'
import { InvalidRecordError } from './identity/errors.ts'
import { DHT_QUOTAS, DHT_SWEEP_INTERVAL_MS, roomForForeignRecord, sweepDhtRecords } from './dht-quota.ts'
import { dhtProfileSelector, dhtProfileValidator } from './identity/dht-profile.ts'
import { DhtProfiles } from './identity/dht-publisher.ts'
import { OwnProfile, type SelfDescription } from './identity/own-profile.ts'
import { pairing, type Pairing } from './identity/pairing.ts'
import { epochUpgrades, type EpochUpgrades } from './identity/epoch-upgrade.ts'
import type { ProfileBook } from './identity/profile-book.ts'
import { Membership } from './identity/membership.ts'
import { profileExchange, type ProfileExchange } from './identity/profile-exchange.ts'
import { ipOf, linkManager, localInterfaces, tunnels, type LinkKind, type LinkManager, type Tunnels } from '../link/index.ts'

export interface DeviceNodeInit {
  dataDir: string
  privateKey: PrivateKey
  account: AccountStore
  /** The devices this one knows (node/identity/profile-book.ts openDeviceBook); closed by the caller. */
  book: ProfileBook
  /** Multiaddrs to listen on. */
  listen: string[]
  /** What this device says of itself (name, kind, capabilities), asked for on every change. */
  describe(): SelfDescription
  /** @default true */
  mdns?: boolean
  bootstrap?: Multiaddr[]
  /** May `device` open channel `name` here? Throw with the reason to refuse (the grants). */
  authorizeChannel(device: string, name: string): void
  /** May `device` use the tunnel with this device at all (the `tunnel` grant)? Throw to refuse. */
  authorizeTunnel?(device: string, direction: 'open' | 'accept'): void
  /** Interface class overrides, e.g. { eth1: 'wifi' }. */
  interfaceKinds?: Record<string, LinkKind>
  /** How long channels survive without any link. */
  tunnelGraceMs?: number
}

/**
 * What the DHT tells others of a device: its private addresses, never a zoned link-local one
 * (the zone names one of our interfaces, which means nothing on theirs).
 */
const lanPeerInfo = (info: PeerInfo): PeerInfo => removePublicAddressesMapper({ ...info, multiaddrs: info.multiaddrs.filter(ma => ipOf(ma)?.zone == null) })

const refuseRecord = async (): Promise<void> => { throw new InvalidRecordError('this DHT stores companion records only') }

/** Addresses often change several at once (an interface comes up): announce once they settle. */
const ADDRESS_SETTLE_MS = 1_000

/** Reservations a device holds for others (members only). */
const RELAY_MAX_RESERVATIONS = 256

export interface DeviceServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  profiles: ProfileExchange
  pairing: Pairing
  epochs: EpochUpgrades
  dialer: DeviceDialer
  links: LinkManager
  tunnels: Tunnels
  relay: CircuitRelayService
  mdns?: MdnsDiscovery
}

/** A started device node: libp2p with our transports, discovery, identity and dialling. */
export interface DeviceNode {
  libp2p: Libp2p<DeviceServices>
  account: AccountStore
  book: ProfileBook
  own: OwnProfile
  dhtProfiles: DhtProfiles
  /** Every address of this device, link-local ones with their zone: what `companion status` shows. */
  addresses(): string[]
  /** This device changed (name, account, capabilities): re-sign, tell every device, republish. */
  changed(): Promise<void>
  /** Removing a member, leaving, starting over: the account's membership, written once. */
  membership: Membership
  stop(): Promise<void>
}

export async function createDeviceNode (init: DeviceNodeInit): Promise<DeviceNode> {
  const log = logger('companion:node')
  const { account } = init
  const datastore = new SqliteDatastore(join(init.dataDir, NODE_DB_FILE), DHT_QUOTAS)
  const loopbackOnly = init.listen.length > 0 && init.listen.every(a => isLoopback(multiaddr(a)))
  const { book } = init
  const own = new OwnProfile({ dataDir: init.dataDir, deviceKey: init.privateKey, account, describe: init.describe })
  // set once the node exists; pairing calls it only after start
  let changed = async (): Promise<void> => {}
  let locate = async (_id: string, _signal: AbortSignal): Promise<string[]> => []
  let membership: Membership | undefined
  let introductions: DhtIntroductions | undefined
  const known = {
    members: () => book.members().map(d => d.id),
    isMember: (id: string) => book.relation(id) === 'member',
    addressesOf: (id: string) => book.get(id)?.addresses ?? [],
    locate: async (id: string, signal: AbortSignal) => await locate(id, signal)
  }

  const services: Record<string, unknown> = {
    identify: identify(),
    // our addresses changed (a relay slot taken, a network joined): tell the connected devices,
    // so a device behind a relay is found through the devices that know it
    identifyPush: identifyPush(),
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: lanPeerInfo,
      querySelfInterval: DHT_QUERY_SELF_INTERVAL_MS,
      validators: {
        [DHT_KEY_PREFIX]: dhtProfileValidator({ account, book, roomForForeign: (key) => roomForForeignRecord(datastore, key) }),
        // kad-dht's own record types are not ours to store: anyone could fill the disk with them
        pk: refuseRecord,
        ipns: refuseRecord
      },
      selectors: { [DHT_KEY_PREFIX]: dhtProfileSelector }
    }),
    profiles: profileExchange({ book, own, account }),
    pairing: pairing({
      account,
      book,
      onJoined: async () => {
        await changed()
        // members we have not met yet may be reachable only through others: ask the DHT
        introductions?.soon()
        // every connection was made as a stranger (relay slots, links): make them again as a member
        await Promise.all(libp2p.getConnections().map(async conn => { await conn.close().catch(() => {}) }))
      },
      onAccepted: async () => {}
    }),
    epochs: epochUpgrades({ account, onUpgraded: async (removed) => { await membership?.epochChanged(removed) } }),
    dialer: deviceDialer({ bootstrap: init.bootstrap ?? [], known }),
    // every device can relay for the others of its account (a laptop on both Wi-Fi and Ethernet
    // joins a phone on one to a desktop on the other); the gater keeps strangers out
    relay: circuitRelayServer({ reservations: { maxReservations: RELAY_MAX_RESERVATIONS, applyDefaultLimit: false } }),
    links: linkManager({ isMember: (id) => book.relation(id) === 'member', memberSoon: async (id, ms) => await book.memberSoon(id, ms), interfaceKinds: init.interfaceKinds }),
    tunnels: tunnels({ isMember: (id) => book.relation(id) === 'member', authorize: init.authorizeChannel, authorizeTunnel: init.authorizeTunnel, graceMs: init.tunnelGraceMs })
  }
  if (init.mdns !== false) {
    services.mdns = companionMdns({ serviceTag: MDNS_SERVICE_TAG, intervalMs: MDNS_INTERVAL_MS })
  }

  let libp2p: Libp2p<DeviceServices>
  const relays = new MemberRelays({
    isMember: known.isMember,
    // relayed connections are not direct (the link manager ranks them the same way)
    directlyConnected: (peer) => libp2p.getConnections(peer).some(conn => conn.status === 'open' && conn.direct),
    log
  })
  try {
    libp2p = await createLibp2p({
      start: false,
      privateKey: init.privateKey,
      datastore,
      addresses: {
        // '/p2p-circuit': take a reservation on the devices that relay for us
        listen: [...init.listen, '/p2p-circuit'],
        announceFilter: (addrs) => announceable(addrs)
      },
      transports: [lanTcp(), relays.transport({ reservationConcurrency: 2 })],
      ...connectionStack(),
      connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS, pingTimeout: { minTimeout: CONNECTION_PING_TIMEOUT_MS } },
      connectionManager: { maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS, ...dialTimeouts() },
      connectionGater: {
        ...dialPolicyGater({ loopbackOnly: () => loopbackOnly, isRevoked: (id) => account.isRevoked(id) }),
        ...relayGater({ isMember: known.isMember })
      },
      services: services as unknown as { [K in keyof DeviceServices]: (components: any) => DeviceServices[K] }
    })
    await book.load(libp2p.peerStore)
    await own.start()
    await libp2p.start()
  } catch (err) {
    datastore.close()
    throw err
  }
  const ownAddresses = (): string[] => libp2p.getMultiaddrs().map(ma => ma.toString())
  /** Every address, also the link-local ones libp2p leaves out (fe80:: with its zone), for people to read. */
  const allAddresses = (): string[] => {
    const own = libp2p.getMultiaddrs()
    const linkLocal = linkLocalAddresses(localInterfaces(), listenPorts([...init.listen.map(a => multiaddr(a)), ...own]))
    return [...own.map(ma => ma.toString()), ...linkLocal.map(ma => `${ma.toString()}/p2p/${libp2p.peerId.toString()}`)]
  }
  const dhtProfiles = new DhtProfiles({ dht: libp2p.services.dht, account, own, book, deviceKey: init.privateKey, addresses: ownAddresses, log })
  locate = async (id, signal) => await dhtProfiles.locate(id, signal)
  // where each known device is, kept in our own table for as long as we know it
  const remember = (peerId: PeerId): void => {
    void libp2p.peerStore.get(peerId).then(peer => { book.remember(peerId.toString(), peer.addresses.map(a => a.multiaddr.toString())) }, () => {})
  }
  libp2p.addEventListener('peer:identify', (evt) => { remember(evt.detail.peerId) })
  // new direct addresses (another network, another port): tell the members where to find us;
  // relay reservations come and go and are found through the DHT's peer routing anyway
  const direct = (): string => ownAddresses().filter(a => !a.includes('/p2p-circuit')).sort().join(' ')
  let announced = direct()
  let moved: ReturnType<typeof setTimeout> | undefined
  libp2p.addEventListener('self:peer:update', () => {
    clearTimeout(moved)
    moved = setTimeout(() => {
      if (direct() === announced) return
      announced = direct()
      void changed().catch((err: Error) => { log.error('could not announce new addresses - %e', err) })
    }, ADDRESS_SETTLE_MS)
    moved.unref()
  })
  changed = async () => {
    await own.bump()
    await libp2p.services.profiles.announce()
    void dhtProfiles.publish()
  }
  libp2p.services.profiles.addEventListener('device:profile', (evt) => {
    // a device seen for the first time was not known yet when identify told its addresses
    remember(evt.detail.peerId)
    // a new member's links are probed and ranked at once, not at the next maintenance round
    libp2p.services.links.refresh(evt.detail.peerId.toString())
    // and it may relay for us (it did not know us when we connected, or we did not know it)
    relays.memberKnown(evt.detail.peerId)
  })
  const members = new Membership({
    account,
    book,
    connections: () => libp2p.getConnections(),
    offerEpoch: async (conn) => { await libp2p.services.epochs.offer(conn) },
    changed: async () => { await changed() },
    forgotten: (id) => { libp2p.services.tunnels.forget(id) }
  })
  membership = members
  libp2p.services.profiles.addEventListener('account:removed', () => {
    // told by a member: start over as an account of one, as after leaving
    log('this device was removed from its account; it is an account of its own again')
    void members.startOver().catch((err: Error) => { log.error('could not start a new account - %e', err) })
  })
  libp2p.services.profiles.addEventListener('account:behind', (evt) => { void libp2p.services.epochs.offer(evt.detail.connection) })
  void dhtProfiles.publish()
  introductions = new DhtIntroductions({ libp2p, log })
  introductions.start()

  // libp2p passes on a discovered peer only while it is new to the peer store: a device met
  // before is dialled again from the sightings of it
  libp2p.services.mdns?.addEventListener('peer', (evt) => { libp2p.services.dialer.sighted(evt.detail) })
  // a new network: ask mDNS again at once rather than at its next interval
  const watcher = new NetworkWatcher(() => { libp2p.services.mdns?.networkChanged() })
  watcher.start()
  const sweep = (): void => {
    try {
      const removed = sweepDhtRecords(datastore)
      if (removed > 0) log('deleted %d expired DHT records', removed)
    } catch (err) {
      log.error('could not sweep DHT records - %e', err)
    }
  }
  // not at start: nothing is urgent about a stale record, and start-up should stay quick
  const sweeper = setInterval(sweep, DHT_SWEEP_INTERVAL_MS)
  sweeper.unref()

  return {
    libp2p,
    account,
    book,
    own,
    dhtProfiles,
    addresses: allAddresses,
    changed: async () => { await changed() },
    membership: members,
    async stop () {
      clearTimeout(moved)
      clearInterval(sweeper)
      watcher.stop()
      dhtProfiles.stop()
      relays.stop()
      introductions?.stop()
      await libp2p.stop()
      datastore.close()
    }
  }
}
