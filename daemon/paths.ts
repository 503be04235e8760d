import { join } from 'node:path'

/**
 * Files of a data directory that both the daemon and the CLI need to know.
 * No dependencies: the CLI imports this and nothing else of the daemon.
 */
export const CONTROL_SOCKET_FILE = 'control.sock'
export const LOCK_FILE = 'daemon.lock'
export const SETTINGS_FILE = 'settings.json'
/** Hashes of the web page's browser sessions. */
export const UI_SESSIONS_FILE = 'ui-sessions.json'

export function controlSocketPath (dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_FILE)
}
