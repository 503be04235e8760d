/** A share the user asked for that cannot be (a file that is not there, no such device, a bad option). */
export class InvalidShareError extends Error {
  override readonly name = 'InvalidShareError'
}

/** The other device broke the share protocol (a malformed header or answer). */
export class ShareProtocolError extends Error {
  override readonly name = 'ShareProtocolError'
}

/** The receiving device refused or failed the transfer, for the reason it gave. */
export class ShareRefusedError extends Error {
  override readonly name = 'ShareRefusedError'
}
