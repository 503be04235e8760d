/**
 * Named errors of the daemon's services. They say what happened in the services' own terms;
 * which HTTP status and code each is on the control API is decided in one place,
 * daemon/control/error-table.ts.
 */

export class DaemonAlreadyRunningError extends Error {
  override readonly name = 'DaemonAlreadyRunningError'
}

export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

/** No known device answers to that name, id or id prefix. */
export class UnknownDeviceError extends Error {
  override readonly name = 'UnknownDeviceError'
}

/** Several devices (or waiting pairing requests) answer to that name or prefix. */
export class AmbiguousDeviceError extends Error {
  override readonly name = 'AmbiguousDeviceError'
}

/** `pair` named this device itself. */
export class PairSelfError extends Error {
  override readonly name = 'PairSelfError'
}

/** No pairing request from that device is waiting. */
export class NoPairRequestError extends Error {
  override readonly name = 'NoPairRequestError'
}

/** The other device refused to open a channel. */
export class ChannelRefusedError extends Error {
  override readonly name = 'ChannelRefusedError'
}

/** A forward's local port cannot be listened on. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError'
}

/** `dial` was given something that is not a multiaddr. */
export class InvalidAddressError extends Error {
  override readonly name = 'InvalidAddressError'
}

/** `dial` could not connect. */
export class DialFailedError extends Error {
  override readonly name = 'DialFailedError'
}

/** `dial` reached something that showed no valid profile. */
export class NotADeviceError extends Error {
  override readonly name = 'NotADeviceError'
}

/** The daemon runs without its web page (`--no-ui`). */
export class UiDisabledError extends Error {
  override readonly name = 'UiDisabledError'
}

/** No other account's phone claims that number in companion-link (or none answered). */
export class NumberNotClaimedError extends Error {
  override readonly name = 'NumberNotClaimedError'
}

/** Every claimant of a number failed to prove it got the SMS code. */
export class VerificationFailedError extends Error {
  override readonly name = 'VerificationFailedError'
}
