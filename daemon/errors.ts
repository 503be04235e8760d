/** Named errors of the daemon. */

export class DaemonAlreadyRunningError extends Error {
  override readonly name = 'DaemonAlreadyRunningError'
}

export class DataDirError extends Error {
  override readonly name = 'DataDirError'
}

/** An error the control API returns to its client: an HTTP status, a stable code, a message. */
export class ControlError extends Error {
  override readonly name = 'ControlError'
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}
