/** Named errors of the device node. */

export class DeviceKeyError extends Error {
  override readonly name = 'DeviceKeyError'
}

export class InvalidDeviceInfoError extends Error {
  override readonly name = 'InvalidDeviceInfoError'
}

/** Another account's device did not show a claim or a proof as it should (or this one cannot answer). */
export class NumberClaimError extends Error {
  override readonly name = 'NumberClaimError'
}
