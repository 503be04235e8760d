import { pick } from '../testbed/sms-events.ts'
import { runCli, type Device } from '../testbed/index.ts'
import { PEOPLE, PHONE_NUMBER, type SoakWorld } from './world.ts'

/** A text the API accepted (answered with an id): it must end sent or failed, carried once. */
export interface AcceptedText { id: string, device: string, to: string[], body: string, at: number }
/** An SMS the outside world sent the phone: every device must end up holding it once. */
export interface IncomingText { from: string, body: string }

export interface LoadInit {
  world: SoakWorld
  random: () => number
  /** Texts sent per second, from all devices together. */
  rate: number
  /** A file for bulk transfers (shares), made by the caller. */
  bulkFile: string
  say: (line: string) => void
}

/** At most this many sends waiting for the API at once: a busy daemon slows the load, not the reverse. */
const MAX_PENDING_SENDS = 8
const INCOMING_EVERY_MS = 3_000
const READ_EVERY_MS = 5_000

/**
 * What people do, seeded: texts out from every device (short, multipart, to two people), texts
 * in through the carrier, reads on any device, shares of a file, and the page's event stream held
 * open on every device. Runs until `stop()`.
 */
export class Load {
  readonly accepted: AcceptedText[] = []
  readonly incoming: IncomingText[] = []
  /** Sends the API refused or could not take (a device down): not accepted, so owed nothing. */
  refused = 0
  reads = 0
  shares = { started: 0, ok: 0, failed: 0 }
  events = 0
  private readonly init: LoadInit
  private running = true
  private pending = 0
  private serial = 0
  private readonly loops: Array<Promise<void>> = []
  private readonly streams = new AbortController()

  constructor (init: LoadInit) {
    this.init = init
  }

  start (): void {
    this.loops.push(
      this.every(1000 / this.init.rate, () => { this.sendOne() }),
      this.every(INCOMING_EVERY_MS, async () => { await this.receiveOne() }),
      this.every(READ_EVERY_MS, async () => { await this.readSome() }),
      ...this.init.world.devices.map(async d => { await this.holdEvents(d) })
    )
  }

  /** Stop adding load; resolves once every send in flight has its answer. */
  async stop (): Promise<void> {
    this.running = false
    this.streams.abort()
    await Promise.allSettled(this.loops)
    while (this.pending > 0) await sleep(50)
  }

  /** A share of the bulk file from the laptop to `to` (runs beside the texts; not awaited by them). */
  share (to: Device): void {
    this.shares.started++
    const { world } = this.init
    // not awaited by stop(): a share still going when the load stops ends with its daemons
    void runCli(['--data-dir', world.laptop.dataDir, 'share', this.init.bulkFile, '--to', to.id], { timeoutMs: 300_000 }).then(r => {
      if (r.code === 0) this.shares.ok++
      else {
        this.shares.failed++
        this.init.say(`share to ${world.name(to)}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`)
      }
    })
  }

  private async every (ms: number, fn: () => void | Promise<void>): Promise<void> {
    let next = Date.now()
    while (this.running) {
      await fn()
      next += ms
      await sleep(Math.max(0, next - Date.now()))
    }
  }

  private sendOne (): void {
    if (this.pending >= MAX_PENDING_SENDS) return
    const { random, world } = this.init
    const roll = random()
    const device = roll < 0.7 ? world.laptop : roll < 0.9 ? pick(random, world.devices.slice(2).concat(world.laptop)) : world.phone
    if (!device.running) return
    const n = ++this.serial
    const shape = random()
    const to = shape < 0.05 ? [pick(random, PEOPLE.slice(0, 3)), pick(random, PEOPLE.slice(3))] : [pick(random, PEOPLE)]
    // one in seven is long enough to travel as several SMS parts
    const body = `soak ${n} ` + (shape > 0.85 ? 'long text '.repeat(20 + Math.floor(random() * 40)) : 'hi')
    this.pending++
    device.api.call<{ id: string }>('POST', '/v1/sms', { to, body }).then(
      (answer) => { this.accepted.push({ id: answer.id, device: world.name(device), to, body, at: Date.now() }) },
      () => { this.refused++ }
    ).finally(() => { this.pending-- })
  }

  private async receiveOne (): Promise<void> {
    const from = pick(this.init.random, PEOPLE)
    const body = `incoming ${this.incoming.length + 1} from ${from}`
    await this.init.world.carrier.inject(from, PHONE_NUMBER, body)
    this.incoming.push({ from, body })
  }

  private async readSome (): Promise<void> {
    const { random, world } = this.init
    const device = pick(random, world.devices)
    if (!device.running) return
    try {
      await device.api.call('POST', '/v1/sms/read', { target: pick(random, PEOPLE) })
      this.reads++
    } catch {}
  }

  /** The page's event stream, held open; opened again after its daemon restarts. */
  private async holdEvents (device: Device): Promise<void> {
    while (this.running) {
      try {
        const res = await device.api.download('/v1/events', this.streams.signal)
        for await (const chunk of res) this.events += String(chunk).split('\n\n').length - 1
      } catch {}
      if (this.running) await sleep(1_000)
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
