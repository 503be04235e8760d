/** Named errors of the device node. */

export class DeviceKeyError extends Error {
  override readonly name = 'DeviceKeyError'
}

export class InvalidDeviceInfoError extends Error {
  override readonly name = 'InvalidDeviceInfoError'
}
