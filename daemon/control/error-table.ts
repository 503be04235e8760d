/**
 * Which HTTP status and code each service error is on the control API: the one place where
 * that is decided. Services throw errors in their own terms; anything not listed here is the
 * daemon's own failure (500), logged.
 */
import { logger } from '@libp2p/logger'
import { InvalidDeviceInfoError, InvalidGrantError, InvalidRecordError, NotAMemberError, PairingError } from '../../node/index.ts'
import { HistoryUnavailableError, InvalidContactsError, InvalidEventError, InvalidSmsError, StorageError, UnknownMessageError } from '../../sms/index.ts'
import { InvalidSettingError } from '../settings.ts'
import { AmbiguousDeviceError, ChannelRefusedError, DialFailedError, InvalidAddressError, NoPairRequestError, NotADeviceError, PairSelfError, PortInUseError, UiDisabledError, UnknownDeviceError } from '../errors.ts'
import { BlobMismatchError, BlobProtocolError, BlobTooLargeError, BlobUnavailableError } from '../../blobs/errors.ts'
import { InvalidShareError } from '../../share/index.ts'
import { ControlError } from './contract.ts'

const log = logger('companion:control')

type ErrorClass = abstract new (...args: never[]) => Error

/** [error class, HTTP status, code]; the first class the error is an instance of decides. */
export const ERROR_TABLE: ReadonlyArray<readonly [ErrorClass, number, string]> = [
  // the request asks for something malformed: the caller's fault
  [InvalidDeviceInfoError, 400, 'invalid_request'],
  [InvalidGrantError, 400, 'invalid_request'],
  [InvalidRecordError, 400, 'invalid_request'],
  [InvalidSmsError, 400, 'invalid_request'],
  [InvalidEventError, 400, 'invalid_request'],
  [InvalidContactsError, 400, 'invalid_request'],
  [InvalidSettingError, 400, 'invalid_request'],
  [InvalidShareError, 400, 'invalid_request'],
  [InvalidAddressError, 400, 'invalid_multiaddr'],
  [PairSelfError, 400, 'pair_self'],
  [BlobTooLargeError, 413, 'body_too_large'],
  // it names something that is not there
  [UnknownDeviceError, 404, 'unknown_device'],
  [UnknownMessageError, 404, 'not_found'],
  [NoPairRequestError, 404, 'no_request'],
  // refused, for a reason the user can act on
  [AmbiguousDeviceError, 409, 'ambiguous_device'],
  [PairingError, 409, 'pairing_failed'],
  [NotAMemberError, 409, 'not_a_member'],
  [ChannelRefusedError, 409, 'channel_refused'],
  [PortInUseError, 409, 'port_in_use'],
  [UiDisabledError, 409, 'ui_disabled'],
  [HistoryUnavailableError, 409, 'history_unavailable'],
  // another device did not answer as one should
  [DialFailedError, 502, 'dial_failed'],
  [NotADeviceError, 502, 'not_a_device'],
  [BlobUnavailableError, 502, 'file_unavailable'],
  [BlobMismatchError, 502, 'file_unavailable'],
  [BlobProtocolError, 502, 'file_unavailable'],
  // the disk is full or busy: nothing was kept, and the same request may succeed later
  [StorageError, 503, 'storage_unavailable']
]

/**
 * An error as the control API's client sees it. `fallback` is what an error not in the table
 * becomes (a route may say "refused" instead of "the daemon failed"); without one it is a 500.
 */
export function toControlError (err: unknown, what: string, fallback?: { status: number, code: string }): ControlError {
  if (err instanceof ControlError) return err
  const message = (err as Error)?.message ?? String(err)
  const entry = ERROR_TABLE.find(([type]) => err instanceof type)
  if (entry != null) return new ControlError(entry[1], entry[2], message)
  if (fallback != null) return new ControlError(fallback.status, fallback.code, message)
  log.error('control request %s failed - %e', what, err)
  return new ControlError(500, 'internal', `the daemon failed: ${message}`)
}
