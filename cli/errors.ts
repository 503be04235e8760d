/** A failure the user can act on: printed as one line on stderr, exit 1. */
export class CliError extends Error {
  override readonly name: string = 'CliError'
  readonly exitCode: number

  constructor (message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/** Bad usage (a malformed argument): exit 2. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError'

  constructor (message: string) {
    super(message, 2)
  }
}
