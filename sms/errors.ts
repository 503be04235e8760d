/** Named errors of the SMS service. */

/** A request the user can fix: a bad number, an empty text, an unknown message. */
export class InvalidSmsError extends Error {
  override readonly name = 'InvalidSmsError'
}

export class UnknownMessageError extends Error {
  override readonly name = 'UnknownMessageError'
}

/** A sync peer sent something that is not a valid event: it is disconnected. */
export class SyncProtocolError extends Error {
  override readonly name: string = 'SyncProtocolError'
}

/**
 * An event whose admission depends on its origin's profile, which this device does not hold
 * yet (the origin just moved to a new epoch, or was met only through another member): kept
 * unapplied and applied once the profile comes. Not the origin's fault.
 */
export class ProfilePendingError extends SyncProtocolError {
  override readonly name = 'ProfilePendingError'
}

/** The SMS backend could not send; `message` is the reason a user reads in `failed(reason)`. */
export class SmsBackendError extends Error {
  override readonly name = 'SmsBackendError'
  /** The message certainly did not reach the network (safe to try again later). */
  readonly notSent: boolean

  constructor (reason: string, options: { notSent?: boolean } = {}) {
    super(reason)
    this.notSent = options.notSent ?? false
  }
}

/**
 * This device was about to write an event its peers would refuse (a bug, or input that
 * slipped past a check): the write fails instead of stalling every other device.
 */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError'
}

/** The message store could not be written (disk full, busy, I/O error); nothing of the request was kept. */
export class StorageError extends Error {
  override readonly name = 'StorageError'
}

/** An address book the user gave cannot be read (not a vCard, too large); nothing of it was kept. */
export class InvalidContactsError extends Error {
  override readonly name = 'InvalidContactsError'
}

/** The phone's store cannot be read, with what to do about it (Termux from Google Play, no permission). */
export class HistoryUnavailableError extends Error {
  override readonly name = 'HistoryUnavailableError'
}
