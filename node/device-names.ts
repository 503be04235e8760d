import { DEVICE_KINDS, MAX_DEVICE_NAME_BYTES, type DeviceKind } from './constants.ts'
import { InvalidDeviceInfoError } from './errors.ts'

const encoder = new TextEncoder()

/** Validate a name a user or a peer gives a device. Throws InvalidDeviceInfoError. */
export function validateDeviceName (name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new InvalidDeviceInfoError('a device name must be a non-empty string')
  if (encoder.encode(name).byteLength > MAX_DEVICE_NAME_BYTES) throw new InvalidDeviceInfoError(`a device name is at most ${MAX_DEVICE_NAME_BYTES} bytes`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidDeviceInfoError('a device name may not contain control characters')
  return name
}

export function validateDeviceKind (kind: unknown): DeviceKind {
  if (!DEVICE_KINDS.includes(kind as DeviceKind)) throw new InvalidDeviceInfoError(`a device kind is one of ${DEVICE_KINDS.join(', ')}`)
  return kind as DeviceKind
}
