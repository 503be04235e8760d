import { join } from 'node:path'
import { Device, eventually, requireBuild, until } from './device.ts'
import { pair } from './pairing.ts'
import type { MessageView } from '../sms/view-types.ts'
import { startHelper, type Helper } from './processes.ts'

/** A message as `companion sms list --json` prints it. */
export type Sms = MessageView

export interface Carried { id: number, from: string, to: string, body: string, at: number }

/** A simulated carrier, run by the real `companion carrier` in a namespace. */
export class SimCarrier {
  /** Its namespace; none = this one, listening on loopback only. */
  readonly ns: string | undefined
  /** Its port (0 before `start` = any free port, known once started). */
  port: number
  private helper?: Helper

  constructor (ns: string | undefined, port = 7700) {
    this.ns = ns
    this.port = port
  }

  async start (...args: string[]): Promise<void> {
    this.helper = startHelper([process.execPath, requireBuild(), 'carrier', '--listen', `${this.ns == null ? '127.0.0.1' : '0.0.0.0'}:${this.port}`, ...args], this.ns)
    const ready = await this.helper.line(/^ready /)
    this.port = Number(/:(\d+)\b/.exec(ready)?.[1] ?? this.port)
  }

  stop (): void {
    this.helper?.kill()
  }

  private async admin (...args: string[]): Promise<string> {
    const run = startHelper([process.execPath, requireBuild(), 'carrier', ...args, '--carrier', `127.0.0.1:${this.port}`], this.ns)
    const code = await run.exited
    if (code !== 0) throw new Error(`companion carrier ${args.join(' ')} exited ${String(code)}`)
    return run.stdout()
  }

  async log (): Promise<Carried[]> {
    return JSON.parse(await this.admin('log', '--json')) as Carried[]
  }

  /** An SMS from the outside world. */
  async inject (from: string, to: string, body: string): Promise<void> {
    await this.admin('send', '--from', from, '--to', to, body)
  }
}

export async function messagesOn (device: Device, query = ''): Promise<Sms[]> {
  return await device.api.call<Sms[]>('GET', `/v1/sms?limit=10000${query}`)
}

/** Wait until `device` holds message `id` in a state `check` accepts. */
export async function messageOn (device: Device, id: string, check: (m: Sms) => boolean, timeoutMs = 15_000): Promise<Sms> {
  return await eventually(`message ${id} on ${device.init.name ?? ''}`, timeoutMs, async () => {
    const m = (await messagesOn(device)).find(x => x.id === id)
    return m != null && check(m) ? m : undefined
  })
}

/** Send through the control API (what `companion sms send` does), returning the new id. */
export async function send (device: Device, to: string, body: string, via?: string): Promise<string> {
  const res = await device.api.call<{ id: string }>('POST', '/v1/sms', { to: [to], body, ...(via == null ? {} : { via }) })
  return res.id
}

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/**
 * A phone (with the given `companion daemon` SMS arguments and environment) and a laptop on
 * loopback, connected and paired, for backend tests that need no LAN; `whileAlone` runs on
 * the phone before the laptop exists.
 */
export async function phoneAndLaptop (dir: string, phoneArgs: string[], env?: NodeJS.ProcessEnv, options: { whileAlone?: (phone: Device) => Promise<void> } = {}): Promise<{ phone: Device, laptop: Device }> {
  const phone = new Device({ dataDir: join(dir, 'phone'), name: 'phone', args: [...LOOPBACK, '--kind', 'phone', ...phoneArgs], ...(env == null ? {} : { env }) })
  await phone.start()
  await options.whileAlone?.(phone)
  const address = (await phone.api.call<{ addresses: string[] }>('GET', '/v1/status')).addresses[0] ?? ''
  const laptop = new Device({ dataDir: join(dir, 'laptop'), name: 'laptop', args: [...LOOPBACK, '--bootstrap', address] })
  await laptop.start()
  await until('laptop and phone connected', 10_000, async () => (await laptop.api.call<Array<{ id: string, online: boolean }>>('GET', '/v1/devices')).some(d => d.id === phone.id && d.online))
  await pair(laptop, phone)
  return { phone, laptop }
}
