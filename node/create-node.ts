import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { mdns } from '@libp2p/mdns'
import { kadDHT, removePublicAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import type { PeerDiscovery, PrivateKey, Startable } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { announceable, dialPolicyGater, isLoopback } from './address-policy.ts'
import { DHT_PROTOCOL, DHT_QUERY_SELF_INTERVAL_MS, MDNS_INTERVAL_MS, MDNS_SERVICE_TAG, NODE_DB_FILE } from './constants.ts'
import { deviceDialer, type DeviceDialer } from './device-dialer.ts'
import { deviceInfo, type DeviceInfo, type DeviceInfoService } from './device-info.ts'
import { NetworkWatcher } from './network-watcher.ts'
import { SqliteDatastore } from './sqlite-datastore.ts'

export interface DeviceNodeInit {
  dataDir: string
  privateKey: PrivateKey
  /** Multiaddrs to listen on. */
  listen: string[]
  /** Our own name and kind, asked for on every exchange. */
  getInfo(): DeviceInfo
  /** @default true */
  mdns?: boolean
  bootstrap?: Multiaddr[]
}

export interface DeviceServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
  deviceInfo: DeviceInfoService
  dialer: DeviceDialer
  mdns?: PeerDiscovery & Startable
}

/** A device node: libp2p with our transports, discovery and device services, started and dialling. */
export interface DeviceNode {
  libp2p: Libp2p<DeviceServices>
  stop(): Promise<void>
}

export async function createDeviceNode (init: DeviceNodeInit): Promise<DeviceNode> {
  const datastore = new SqliteDatastore(join(init.dataDir, NODE_DB_FILE))
  const listenAddrs = init.listen.map(a => multiaddr(a))
  const loopbackOnly = listenAddrs.length > 0 && listenAddrs.every(ma => isLoopback(ma))

  const services: Record<string, unknown> = {
    identify: identify(),
    ping: ping(),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: removePublicAddressesMapper,
      querySelfInterval: DHT_QUERY_SELF_INTERVAL_MS
    }),
    deviceInfo: deviceInfo({ getInfo: init.getInfo }),
    dialer: deviceDialer({ bootstrap: init.bootstrap ?? [] })
  }
  if (init.mdns !== false) {
    services.mdns = mdns({ serviceTag: MDNS_SERVICE_TAG, interval: MDNS_INTERVAL_MS })
  }

  let libp2p: Libp2p<DeviceServices>
  try {
    libp2p = await createLibp2p({
      privateKey: init.privateKey,
      datastore,
      addresses: {
        listen: init.listen,
        announceFilter: (addrs) => announceable(addrs)
      },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: dialPolicyGater({ loopbackOnly: () => loopbackOnly }),
      services: services as unknown as { [K in keyof DeviceServices]: (components: any) => DeviceServices[K] }
    })
  } catch (err) {
    datastore.close()
    throw err
  }

  // a new network: ask mDNS again at once rather than at its next interval
  const watcher = new NetworkWatcher(() => {
    const m = libp2p.services.mdns
    if (m == null) return
    void Promise.resolve(m.stop()).then(() => m.start())
  })
  watcher.start()

  return {
    libp2p,
    async stop () {
      watcher.stop()
      await libp2p.stop()
      datastore.close()
    }
  }
}
