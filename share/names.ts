import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { extname, join } from 'node:path'

/**
 * A received file's name as it is saved: the last part of what the sender said, no
 * separators, no control characters, never `.`/`..` or hidden (a leading dot would hide it,
 * or make `.bashrc`), at most 200 characters; never empty.
 */
export function sanitizeName (name: string): string {
  const last = name.split(/[/\\]/).filter(Boolean).at(-1) ?? ''
  // eslint-disable-next-line no-control-regex
  let clean = last.replace(/[\u0000-\u001f\u007f]/g, '').trim().replace(/^\.+/, '')
  if (clean.length > 200) {
    const ext = extname(clean).slice(0, 20)
    clean = clean.slice(0, 200 - ext.length) + ext
  }
  return clean === '' ? 'shared file' : clean
}

/** `name`, or `name (1).ext`, `name (2).ext`… : the first that is not taken in `dir`. */
export function freeName (dir: string, name: string, taken: (path: string) => boolean = existsSync): string {
  const ext = extname(name)
  const base = ext === '' || ext === name ? name : name.slice(0, -ext.length)
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? name : `${base} (${n})${ext === name ? '' : ext}`
    if (!taken(join(dir, candidate))) return candidate
  }
}

/** The XDG download directory (`XDG_DOWNLOAD_DIR` of user-dirs.dirs), else ~/Downloads. */
export function defaultDownloads (env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME ?? homedir()
  const config = env.XDG_CONFIG_HOME ?? join(home, '.config')
  try {
    const line = readFileSync(join(config, 'user-dirs.dirs'), 'utf8').split('\n').find(l => l.startsWith('XDG_DOWNLOAD_DIR='))
    const value = line?.slice('XDG_DOWNLOAD_DIR='.length).replace(/^"|"$/g, '').replace(/^\$HOME/, home)
    if (value != null && value.startsWith('/')) return value
  } catch {}
  return join(home, 'Downloads')
}
