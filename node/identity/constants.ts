/** Identity: protocol ids, record domains and limits. All documented in docs/PROTOCOL.md. */

/** Profile exchange on every connection. */
export const PROFILE_PROTOCOL = '/companion/profile/2.0.0'
/** A member at a newer account epoch hands it to one that was away (§4.7). */
export const EPOCH_PROTOCOL = '/companion/epoch/1.0.0'
/** Pairing: CPace over the code the joining device shows (§4.3). */
export const PAIR_PROTOCOL = '/companion/pair/2.0.0'

/** Signature domains and payload types of our signed envelopes (libp2p RecordEnvelope). */
export const CERT_DOMAIN = 'companion-device-certificate'
export const CERT_CODEC = new TextEncoder().encode('/companion/cert/1')
export const PROFILE_DOMAIN = 'companion-device-profile'
export const PROFILE_CODEC = new TextEncoder().encode('/companion/profile/1')
export const REVOCATION_DOMAIN = 'companion-revocation-list'
export const EPOCH_DOMAIN = 'companion-account-epoch'
export const EPOCH_CODEC = new TextEncoder().encode('/companion/epoch/1')
export const REVOCATION_CODEC = new TextEncoder().encode('/companion/revocations/1')
/** What a device signs in a DHT record (the outer, readable part). */
export const DHT_SIGNATURE_CONTEXT = 'companion-dht-profile-v1'

/** DHT keys of profile records: `/companion/<hex>`; validators are keyed by `companion`. */
export const DHT_KEY_PREFIX = 'companion'

export const MAX_CERT_BYTES = 2048
export const MAX_PROFILE_BYTES = 8192
export const MAX_REVOCATION_BYTES = 64 * 1024
export const MAX_REVOKED_DEVICES = 512
/** Devices one account may have (each epoch record lists them). */
export const MAX_ACCOUNT_MEMBERS = 64
export const MAX_EPOCH_BYTES = 8 * 1024
/** Epochs kept and shown: a member that slept through more must pair again. */
export const MAX_EPOCHS_KEPT = 8
export const MAX_CHAIN_BYTES = 96 * 1024
export const MAX_DHT_RECORD_BYTES = 16 * 1024
export const MAX_CAPABILITIES = 32
/** Devices one capability of a profile may name as refused. */
export const MAX_DENIED = 64

/**
 * A profile exchange must complete within this. Long for four small messages: a device busy
 * starting (twenty on two cores) answers seconds late, and an exchange cut at 5 s that would
 * have finished at 6 was asked again 2 s later, as late, while the device stayed unknown.
 */
export const PROFILE_TIMEOUT_MS = 10_000
/**
 * Either side asks for the profile this long after a connection opened if no exchange has
 * completed and none is under way: identify, which starts it on the dialling side, failed or
 * was too slow, or the dialling side got what it wanted while we timed out.
 */
export const PROFILE_FALLBACK_MS = 10_000
/** A profile exchange that timed out (not one that was refused) is tried again after these. */
export const PROFILE_RETRY_DELAYS_MS = [2_000, 5_000, 15_000]
export const PAIR_TIMEOUT_MS = 60_000
export const MAX_PAIR_TIMEOUT_MS = 10 * 60_000
/**
 * Wrong codes a device takes within the window, from all joiners together (an attacker picks
 * as many device ids as it likes); after that it refuses every request until the window passes.
 * The same number of timed-out requests from one device refuses that device.
 */
export const PAIR_MAX_FAILURES = 3
export const PAIR_FAILURE_WINDOW_MS = 10 * 60_000
export const PAIR_CODE_DIGITS = 6
/** Requests waiting for the user at once, from all devices together. */
export const MAX_PENDING_PAIR_REQUESTS = 8
/** Random bytes each side adds to the pairing session id. */
export const PAIR_SID_BYTES = 16

/** Capabilities a device may have and grant. Application channels are `channel:<name>`. */
export const CAPABILITIES = ['sms.send', 'sms.receive', 'tunnel', 'channels', 'share'] as const
export type KnownCapability = typeof CAPABILITIES[number]

/** Files in the data directory. */
export const ACCOUNT_FILE = 'account.json'
/** Versions before account epochs kept a signed revocation list here; read (and honoured) if present. */
export const REVOCATIONS_FILE = 'revocations.bin'
export const PROFILE_SEQ_FILE = 'profile-seq'
export const GRANTS_FILE = 'grants.json'

/** Devices of other accounts remembered (the most recently seen); members are never forgotten. */
export const MAX_NEARBY_DEVICES = 256
/** The table of known devices (certificate, profile, last addresses), `<data-dir>/devices.db`. */
export const DEVICES_DB_FILE = 'devices.db'

/** Peer store metadata where versions before devices.db kept a device's records (read once, to move them). */
export const CERT_METADATA = 'companion/cert'
export const PROFILE_METADATA = 'companion/profile'
