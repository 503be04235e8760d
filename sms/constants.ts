/** SMS service: channel names, limits and defaults. All documented in docs/PROTOCOL.md §8. */
import { MAX_PARTS, MULTI_SEPTETS } from './codec/plan.ts'

/** Tunnel channel on which a device replicates the message log to another member. */
export const SYNC_CHANNEL = 'sms-sync'
/** Tunnel channel on which a member asks a phone to import its store (`companion sms import --via`). */
export const HISTORY_CHANNEL = 'sms-history'
/** libp2p protocol a proxy answers for devices outside its account (always `unauthorized`). */
export const SMS_SUBMIT_PROTOCOL = '/companion/sms-submit/1.0.0'
/** Signature context of a log event. */
export const EVENT_SIGNATURE_CONTEXT = 'companion-sms-event-v1\n'

/** Signature context of a placeholder's proof (an event's origin, number and audience). */
export const STUB_SIGNATURE_CONTEXT = 'companion-sms-stub-v1\n'

/**
 * The longest text a network can deliver: 255 concatenated parts (the 8-bit reference's
 * limit) of 153 GSM-7 septets, one UTF-16 unit at least each. Outgoing texts must also fit
 * in 255 parts as they will be encoded (17,085 UCS-2 units when not GSM-7).
 */
export const MAX_BODY_CHARS = MAX_PARTS * MULTI_SEPTETS
export const MAX_RECIPIENTS = 20
export const MAX_READ_IDS = 500
export const MAX_AUDIENCE = 256
export const MAX_REASON_CHARS = 200
/** A contact's name, and how many numbers one contact may have. */
export const MAX_NAME_CHARS = 200
export const MAX_CONTACT_NUMBERS = 20
/**
 * An event's payload text, in UTF-8 bytes: a longest body where every unit is escaped in
 * JSON (`\u0001`, 6 bytes) fits, with 20 recipients and a full audience.
 */
export const MAX_EVENT_BYTES = 256 * 1024
/** One sync frame: an event inside a JSON string (quotes and backslashes doubled) and its signatures. */
export const MAX_SYNC_FRAME_BYTES = 2 * MAX_EVENT_BYTES + 4 * 1024
/** Events a sync sender puts in one catch-up query. */
export const CATCH_UP_PAGE = 500
/** Events the store applies in one transaction. */
export const MAX_BATCH = 1_000

/** Default per-device rate limit on a proxy, messages per minute (`--sms-rate`). */
export const DEFAULT_SMS_RATE = 30
export const RATE_WINDOW_MS = 60_000

/** Message statuses, in the order a message moves through them. */
export const STATUSES = ['pending', 'accepted', 'sent', 'delivered', 'failed', 'unauthorized', 'received'] as const
export type SmsStatus = typeof STATUSES[number]

/**
 * Which status wins when several are known: later stages beat earlier ones and an end
 * (failed, unauthorized) beats everything, so every device picks the same one.
 */
export const STATUS_RANK: Record<SmsStatus, number> = { pending: 0, received: 0, accepted: 1, sent: 2, delivered: 3, failed: 4, unauthorized: 4 }
export const FINAL_STATUSES: ReadonlySet<SmsStatus> = new Set(['delivered', 'failed', 'unauthorized', 'received'])

/** The reason a proxy gives for a message whose fate it cannot know (crash while sending). */
export const OUTCOME_UNKNOWN = 'outcome unknown'
