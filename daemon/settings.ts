import { hostname } from 'node:os'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { validateDeviceKind, validateDeviceName, type DeviceKind } from '../node/index.ts'
import type { LinkKind } from '../link/index.ts'
import { DataDirError } from './errors.ts'
import { SETTINGS_FILE } from './paths.ts'
import { readJsonFile, writeJsonFile } from './json-file.ts'
import { normalizeNumber } from '../sms/index.ts'

/** What a device remembers about itself between runs, besides its key. */
export interface Settings {
  name: string
  kind: DeviceKind
  /** TCP port last listened on, reused so peers' remembered addresses stay right. 0 = none yet. */
  port: number
  /** Interface class overrides by interface name (`--interface-kind eth1=wifi`). */
  interfaceKinds: Record<string, LinkKind>
  /** Local TCP ports other member devices may reach through `companion forward`. */
  allowedPorts: number[]
  /** Numbers this device, as an SMS proxy, never texts (`--sms-deny`). */
  smsDeny: string[]
  /** Short codes and premium numbers it may text anyway (`--sms-allow`). */
  smsAllow: string[]
  /** Loopback TCP port of the web page, remembered so an open page finds the daemon again. 0 = none yet. */
  uiPort: number
}

const LINK_KINDS: LinkKind[] = ['wired', 'usb', 'wifi', 'vpn', 'bluetooth', 'relayed', 'loopback', 'unknown']

/** `eth1=wifi` → ['eth1', 'wifi']; throws InvalidSettingError otherwise. */
export function parseInterfaceKind (text: string): [string, LinkKind] {
  const [iface, kind] = text.split('=')
  if (iface == null || !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface) || !LINK_KINDS.includes(kind as LinkKind)) {
    throw new InvalidSettingError(`--interface-kind takes IFACE=KIND with KIND one of ${LINK_KINDS.join(', ')}, not "${text}"`)
  }
  return [iface, kind as LinkKind]
}

export function parsePort (text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidSettingError(`a port is a number from 1 to 65535, not "${text}"`)
  return port
}

export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError'
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
  return { name, kind: guessKind(), port: 0, interfaceKinds: {}, allowedPorts: [], smsDeny: [], smsAllow: [], uiPort: 0 }
}

function rememberedPort (value: unknown): number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < 65536 ? value as number : 0
}

export async function loadSettings (dataDir: string): Promise<Settings> {
  const path = join(dataDir, SETTINGS_FILE)
  const damaged = (err: unknown): DataDirError => new DataDirError(`${path} is damaged (${(err as Error).message}); fix or delete it (the device keeps its id)`)
  const raw = await readJsonFile(path).catch((err: unknown) => { throw err instanceof SyntaxError ? damaged(err) : err }) as Partial<Settings> | undefined
  if (raw === undefined) return defaultSettings()
  try {
    const port = rememberedPort(raw.port)
    const uiPort = rememberedPort(raw.uiPort)
    const interfaceKinds = Object.fromEntries(Object.entries(raw.interfaceKinds ?? {}).map(([i, k]) => parseInterfaceKind(`${i}=${String(k)}`)))
    const allowedPorts = (raw.allowedPorts ?? []).map(p => parsePort(String(p)))
    const smsDeny = (raw.smsDeny ?? []).map(n => normalizeNumber(String(n)))
    const smsAllow = (raw.smsAllow ?? []).map(n => normalizeNumber(String(n)))
    return { name: validateDeviceName(raw.name), kind: validateDeviceKind(raw.kind), port, interfaceKinds, allowedPorts, smsDeny, smsAllow, uiPort }
  } catch (err) {
    throw damaged(err)
  }
}

/** Atomic replace: a crash leaves the old file or the new one, never half of one. */
export async function saveSettings (dataDir: string, settings: Settings): Promise<void> {
  await writeJsonFile(join(dataDir, SETTINGS_FILE), settings)
}
