import { readFile, rename, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { validateDeviceKind, validateDeviceName } from '../node/device-names.ts'
import type { DeviceKind } from '../node/constants.ts'
import { DataDirError } from './errors.ts'
import { SETTINGS_FILE } from './paths.ts'

/** What a device remembers about itself between runs, besides its key. */
export interface Settings {
  name: string
  kind: DeviceKind
  /** TCP port last listened on, reused so peers' remembered addresses stay right. 0 = none yet. */
  port: number
}

/** A machine with a battery is a laptop; otherwise a desktop. The user can say better with --kind. */
export function guessKind (): DeviceKind {
  try {
    const supplies = '/sys/class/power_supply'
    if (existsSync(supplies) && readdirSync(supplies).some(name => name.startsWith('BAT'))) return 'laptop'
  } catch {}
  return 'desktop'
}

export function defaultSettings (): Settings {
  const name = hostname().slice(0, 64) || 'device'
  return { name, kind: guessKind(), port: 0 }
}

export async function loadSettings (dataDir: string): Promise<Settings> {
  const path = join(dataDir, SETTINGS_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings()
    throw err
  }
  try {
    const raw = JSON.parse(text) as Partial<Settings>
    const port = Number.isInteger(raw.port) && (raw.port as number) >= 0 && (raw.port as number) < 65536 ? raw.port as number : 0
    return { name: validateDeviceName(raw.name), kind: validateDeviceKind(raw.kind), port }
  } catch (err) {
    throw new DataDirError(`${path} is damaged (${(err as Error).message}); fix or delete it (the device keeps its id)`)
  }
}

/** Atomic replace: a crash leaves the old file or the new one, never half of one. */
export async function saveSettings (dataDir: string, settings: Settings): Promise<void> {
  const path = join(dataDir, SETTINGS_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}
