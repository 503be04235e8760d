import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

/** --data-dir, else $COMPANION_HOME, else $XDG_DATA_HOME/companion (~/.local/share/companion). */
export function resolveDataDir (option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option != null && option !== '') return resolve(option)
  if (env.COMPANION_HOME != null && env.COMPANION_HOME !== '') return resolve(env.COMPANION_HOME)
  const xdg = env.XDG_DATA_HOME != null && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(xdg, 'companion')
}
