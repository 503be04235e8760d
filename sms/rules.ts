import { ProfilePendingError, SyncProtocolError } from './errors.ts'
import { checkEnvelope, readEnvelope, type Envelope, type EventPayload } from './signed-events.ts'

/** What the rules need to know of other devices. */
export interface EventContext {
  /** Does this device have an SMS backend (its profile offers sms.receive)? Undefined while its full profile is not known. */
  hasBackend(device: string): boolean | undefined
}

/**
 * The one rule for what a device may write and what its peers apply, run by the writer
 * before it signs and by every receiver after the signature checked out: the payload's shape
 * and limits (checkEnvelope), then what depends on who the origin is. Throws
 * SyncProtocolError with the reason. Statuses, assignments and reads are checked where they
 * are applied (materialize.ts), since who may say them depends on the message they name.
 */
export function admit (envelope: Envelope, context: EventContext): EventPayload {
  const payload = checkEnvelope(envelope)
  const { event, origin } = payload
  // an incoming text came by SMS to a phone, or device to device (route network) to any member
  if (event.type === 'message' && event.direction === 'in' && event.route !== 'network') needBackend(origin, context, 'an incoming SMS')
  if (event.type === 'message' && event.stored === true) needBackend(origin, context, 'a text from a phone\'s store')
  return payload
}

function needBackend (origin: string, context: EventContext, what: string): void {
  const backend = context.hasBackend(origin)
  if (backend === undefined) throw new ProfilePendingError(`kept until its device's profile is known: ${what} from a device whose capabilities are not known yet`)
  if (!backend) throw new SyncProtocolError(`invalid event: ${what} from a device without an SMS backend`)
}

/** `admit` for a payload text; the reason it is refused, or the payload. */
export function admitText (text: string, context: EventContext): { payload: EventPayload } | { reason: string } {
  try {
    return { payload: admit(readEnvelope(text), context) }
  } catch (err) {
    if (err instanceof SyncProtocolError) return { reason: err.message }
    throw err
  }
}
