import { lpStream } from '@libp2p/utils'
import type { ComponentLogger, Connection, Logger, Startable, Stream } from '@libp2p/interface'
import { serviceCapabilities } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import { EPOCH_PROTOCOL, MAX_CHAIN_BYTES } from './constants.ts'
import { InvalidEpochError } from './errors.ts'
import { decodeGift, encodeGift, type AccountStore } from './account.ts'

/** How long an upgrade (one message each way) may take. */
const UPGRADE_TIMEOUT_MS = 10_000
/** The key, a certificate and the chain, base64 in JSON. */
const MAX_UPGRADE_BYTES = MAX_CHAIN_BYTES * 2

export interface EpochUpgradesComponents {
  registrar: Registrar
  logger: ComponentLogger
}

export interface EpochUpgradesInit {
  account: AccountStore
  /** We moved to a newer epoch that a member handed us; `removed` are the devices it removed. */
  onUpgraded(removed: string[]): Promise<void>
}

export interface EpochUpgrades {
  /** Hand the current epoch to a member that was away (its certificate is of an older one). */
  offer(connection: Connection): Promise<void>
}

const malformed = (what: string): InvalidEpochError => new InvalidEpochError(`malformed epoch upgrade (${what})`)

/**
 * `/companion/epoch/1.0.0`: a member at a newer account epoch hands it to a member that was
 * away during a removal (we checked that one's old certificate, and that the new epoch keeps
 * it). One message, `{ accountKey, certificate, chain }`, answered `{ ok: true }` or
 * `{ ok: false, reason }`. The receiver takes it only along its own chain (§4.7).
 */
class DefaultEpochUpgrades implements EpochUpgrades, Startable {
  private readonly components: EpochUpgradesComponents
  private readonly init: EpochUpgradesInit
  private readonly log: Logger

  constructor (components: EpochUpgradesComponents, init: EpochUpgradesInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent('companion:epochs')
    this.handle = this.handle.bind(this)
  }

  readonly [Symbol.toStringTag] = 'companion/epoch-upgrades'
  readonly [serviceCapabilities]: string[] = ['@companion/epoch-upgrades']

  async start (): Promise<void> {
    await this.components.registrar.handle(EPOCH_PROTOCOL, this.handle, { maxInboundStreams: 1, maxOutboundStreams: 4 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(EPOCH_PROTOCOL)
  }

  async offer (connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(UPGRADE_TIMEOUT_MS)
    const device = connection.remotePeer.toString()
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(EPOCH_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_UPGRADE_BYTES })
      const gift = await this.init.account.giftFor(device)
      await lp.write(encodeGift(gift), { signal })
      const answer = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray())) as { ok?: unknown, reason?: unknown }
      await stream.close({ signal }).catch(() => {})
      if (answer.ok === true) this.log('handed epoch %d to %p', this.init.account.epoch, connection.remotePeer)
      else this.log.error('%p did not take epoch %d - %s', connection.remotePeer, this.init.account.epoch, String(answer.reason).slice(0, 200))
    } catch (err) {
      stream?.abort(err as Error)
      this.log('could not hand epoch %d to %p - %s', this.init.account.epoch, connection.remotePeer, (err as Error).message)
    }
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(UPGRADE_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_UPGRADE_BYTES })
    let removed: string[] | undefined
    try {
      const offer = decodeGift((await lp.read({ signal })).subarray(), malformed)
      const before = this.init.account.epoch
      removed = await this.init.account.upgrade(offer)
      this.log('moved from epoch %d to %d, handed by %p', before, this.init.account.epoch, connection.remotePeer)
      await lp.write(new TextEncoder().encode(JSON.stringify({ ok: true })), { signal })
      await stream.close({ signal }).catch(() => {})
    } catch (err) {
      this.log.error('refused an epoch upgrade from %p - %s', connection.remotePeer, (err as Error).message)
      await lp.write(new TextEncoder().encode(JSON.stringify({ ok: false, reason: (err as Error).message })), { signal }).catch(() => {})
      stream.abort(err as Error)
      return
    }
    await this.init.onUpgraded(removed)
  }
}

export function epochUpgrades (init: EpochUpgradesInit): (components: EpochUpgradesComponents) => EpochUpgrades {
  return (components) => new DefaultEpochUpgrades(components, init)
}
