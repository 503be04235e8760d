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
 * How often the DHT looks up our own id besides when there can be news (a device met for the
 * first time, an account joined: node/dht-introductions.ts), which is how devices beyond mDNS
 * are introduced. libp2p's default; at 10 s the lookups of twenty devices on one LAN were a
 * large part of their load (issue 17).
 */
export const DHT_QUERY_SELF_INTERVAL_MS = 5 * 60_000

/**
 * libp2p's connection monitor pings every connection this often and closes one that does not
 * answer. Links between members are probed by the link manager (link/), far more often while
 * data flows; this only notices a dead connection to a device of another account. libp2p's
 * 10 s meant 38 streams every 10 s per daemon among twenty devices.
 */
export const CONNECTION_PING_INTERVAL_MS = 60_000
/**
 * The least time such a ping gets before the connection is closed (libp2p adapts it to the
 * round trips it measured, down to 5 s): a busy device answers late, and closing its
 * connections made twenty busy devices redo every handshake.
 */
export const CONNECTION_PING_TIMEOUT_MS = 30_000

/** Redial backoff for known devices that went away: first retry, then doubling up to the max. */
export const REDIAL_MIN_MS = 500
export const REDIAL_MAX_MS = 30_000

/**
 * libp2p refuses inbound connections beyond this many still in their handshake (default 10):
 * twenty devices starting together, each on two links, dial one another at once.
 */
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/**
 * How long one address's dial (TCP, Noise, Yamux) and an inbound handshake may take (libp2p:
 * 6 s and 10 s). A handshake is a few messages, each waiting for the other side's event loop:
 * twenty devices starting together on two cores in a slow hour took 13–16 s for handshakes
 * that finished, and at 15 s many were cut (11 of one device's first 19 dials in one run),
 * redone from the start inside the same storm (a pair connected 4–17 s after the last device
 * was ready). An address where no one is fails at the TCP connect (TCP_CONNECT_TIMEOUT_MS),
 * so this long only costs against a device that accepts and then stalls.
 */
export const HANDSHAKE_TIMEOUT_MS = 30_000
/**
 * A TCP connect that has no answer in this long is to an address where no one is (the kernel
 * answers a SYN however busy the process is): the dial moves on to the next address rather
 * than spend HANDSHAKE_TIMEOUT_MS, which is for handshakes that are under way.
 */
export const TCP_CONNECT_TIMEOUT_MS = 5_000

/** One dial attempt to one device may take this long: a dead address, then a slow handshake. */
export const DIAL_TIMEOUT_MS = TCP_CONNECT_TIMEOUT_MS + HANDSHAKE_TIMEOUT_MS

/**
 * A DHT lookup for where a device is (a member that did not answer, a device that reset the
 * dial) gives up after this long: among busy devices it took its whole time.
 */
export const LOOKUP_TIMEOUT_MS = 15_000

/** Device names longer than this are refused (bytes of UTF-8). */
export const MAX_DEVICE_NAME_BYTES = 64

export const DEVICE_KINDS = ['phone', 'tablet', 'laptop', 'desktop', 'watch', 'server'] as const
export type DeviceKind = typeof DEVICE_KINDS[number]

/** Peer store tag of the account's members, so the connection manager keeps them. */
export const KNOWN_DEVICE_TAG = 'companion-device'
/** Peer store tag of devices nearby (a valid profile, another account): kept below members. */
export const NEARBY_DEVICE_TAG = 'companion-nearby'
