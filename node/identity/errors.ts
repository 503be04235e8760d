/** Named errors of identity: each says why a record or an attempt was refused. */

export class InvalidRecordError extends Error {
  override readonly name: string = 'InvalidRecordError'
}

export class InvalidCertificateError extends InvalidRecordError {
  override readonly name: string = 'InvalidCertificateError'
}

/** A certificate of our account for a device the account removed: expected for a while after a removal, until it learns. */
export class RemovedDeviceError extends InvalidCertificateError {
  override readonly name: string = 'RemovedDeviceError'
}

/** This device joined or left an account while it exchanged profiles: the exchange is stale, not wrong. */
export class AccountChangedError extends Error {
  override readonly name: string = 'AccountChangedError'
}

export class InvalidProfileError extends InvalidRecordError {
  override readonly name: string = 'InvalidProfileError'
}

export class InvalidRevocationListError extends InvalidRecordError {
  override readonly name: string = 'InvalidRevocationListError'
}

export class InvalidEpochError extends InvalidRecordError {
  override readonly name: string = 'InvalidEpochError'
}

/** A correctly signed epoch chain that is not ours to follow (another branch of the same epoch). */
export class EpochForkError extends InvalidEpochError {
  override readonly name: string = 'EpochForkError'
}

/** A profile with a sequence number at or below one already held. */
export class ReplayedRecordError extends InvalidRecordError {
  override readonly name: string = 'ReplayedRecordError'
}

export class PairingError extends Error {
  override readonly name: string = 'PairingError'
}

export class NotAMemberError extends Error {
  override readonly name: string = 'NotAMemberError'
}

export class InvalidGrantError extends Error {
  override readonly name: string = 'InvalidGrantError'
}
