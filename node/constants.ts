/** Protocol ids and limits of the device node. Every id here is documented in docs/PROTOCOL.md. */

/** Our own Kademlia DHT: a LAN of own devices, never the public IPFS DHT. */
export const DHT_PROTOCOL = '/companion/kad/1.0.0'

/** The device key file inside the data directory (libp2p protobuf encoding, mode 0600). */
export const DEVICE_KEY_FILE = 'device.key'

/** The node's SQLite datastore (peer store, DHT records and routing state). */
export const NODE_DB_FILE = 'node.db'

/** mDNS service tag: only companion daemons answer each other. */
export const MDNS_SERVICE_TAG = '_companion._udp.local'

/**
 * Query interval of mDNS once started (discovery on start, and on a network change, is
 * immediate). Every answer reaches every device, so the cost grows with the square of the
 * devices on the link: long, since a device that starts later asks at its own start anyway.
 */
export const MDNS_INTERVAL_MS = 60_000

/** How often interfaces are compared to notice a new network (then mDNS queries again). */
export const INTERFACE_POLL_MS = 2_000

/**
 * How often the DHT looks up our own id after start-up, to learn devices beyond mDNS (a
 * device on another subnet is introduced by these lookups). Each asks the closest devices (up
 * to 20) for theirs; with twenty devices on one LAN that is a large part of their load, but at
 * 5 min a device reached only through a stepping stone was sometimes not found within a
 * minute (issue 17 has the measurements).
 */
export const DHT_QUERY_SELF_INTERVAL_MS = 10_000

/** Redial backoff for known devices that went away: first retry, then doubling up to the max. */
export const REDIAL_MIN_MS = 500
export const REDIAL_MAX_MS = 30_000

/** One dial attempt to one device may take this long. */
export const DIAL_TIMEOUT_MS = 5_000

/** Device names longer than this are refused (bytes of UTF-8). */
export const MAX_DEVICE_NAME_BYTES = 64

export const DEVICE_KINDS = ['phone', 'tablet', 'laptop', 'desktop', 'watch', 'server'] as const
export type DeviceKind = typeof DEVICE_KINDS[number]

/** Peer store tag of the account's members, so the connection manager keeps them. */
export const KNOWN_DEVICE_TAG = 'companion-device'
/** Peer store tag of devices nearby (a valid profile, another account): kept below members. */
export const NEARBY_DEVICE_TAG = 'companion-nearby'
