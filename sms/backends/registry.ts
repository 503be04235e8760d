/**
 * Every SMS backend, by URI scheme (as Syncthing registers its transports): `--sms` is
 * resolved here and only here, and `--help` lists what is registered. A new backend is one
 * file that exports a BackendKind and one line below.
 */
import { InvalidSmsError } from '../errors.ts'
import type { BackendHandlers, BackendKind, SmsBackend } from './backend.ts'
import { simBackend } from './sim.ts'
import { atBackend } from './at/at-backend.ts'
import { modemManagerBackend } from './modem-manager.ts'
import { termuxBackend } from './termux.ts'
import { gammuSmsdBackend } from './gammu-smsd.ts'

/** The `--sms` value of a device that is no proxy. */
export const NO_BACKEND = 'none'

export const BACKENDS: readonly BackendKind[] = [simBackend, atBackend, modemManagerBackend, termuxBackend, gammuSmsdBackend]

/** A URI's scheme: what comes before `:` or `?`, or the whole URI (`termux`). */
function schemeOf (uri: string): string {
  return /^[a-z][a-z0-9+.-]*/i.exec(uri)?.[0].toLowerCase() ?? ''
}

function kindOf (uri: string): BackendKind | undefined {
  const scheme = schemeOf(uri)
  return BACKENDS.find(kind => kind.schemes.includes(scheme))
}

/** Every form `--sms` takes, for help texts and errors. */
export function backendUsage (): string {
  return [NO_BACKEND, ...BACKENDS.map(kind => kind.usage)].join(', ')
}

/** `--sms` help: one entry per registered backend. */
export function backendHelp (): string {
  return `SMS backend: ${NO_BACKEND} (no SMS), ${BACKENDS.map(kind => `${kind.usage} (${kind.summary})`).join(', ')}`
}

/** `--sms` → a backend; `none` → undefined (this device is no proxy). Throws InvalidSmsError for anything else. */
export function createBackend (uri: string, handlers: BackendHandlers): SmsBackend | undefined {
  if (uri === NO_BACKEND) return undefined
  const kind = kindOf(uri)
  if (kind == null) throw new InvalidSmsError(`unknown SMS backend "${uri}": use ${backendUsage()}`)
  return kind.create(uri, handlers)
}
