import type { Libp2p, Logger, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { DHT_PROTOCOL } from './constants.ts'

/** A lookup waits this long after what asked for it, so devices that come together share one. */
export const INTRODUCTION_DELAY_MS = 1_000
/** Lookups are at least this far apart: twenty devices meeting at once ask twice each, not 19 times. */
export const INTRODUCTION_MIN_GAP_MS = 30_000
/** One lookup may take this long. */
export const INTRODUCTION_TIMEOUT_MS = 10_000
/** Devices remembered as met (a stranger can show any number of identities): the oldest go first. */
const MET_REMEMBERED = 1024

/**
 * Devices beyond mDNS (another subnet, reached through a device on both) are introduced by
 * the DHT: looking up our own id asks the nearest devices for theirs. libp2p's DHT does that
 * on a timer; here it is done when there can be news: a device that speaks our DHT is met for
 * the first time (it may know devices we cannot see), or this device joined an account. An
 * idle LAN then costs no lookups, where a 10 s timer cost twenty daemons a large part of
 * their CPU (issue 17).
 */
export class DhtIntroductions {
  private readonly libp2p: Libp2p<{ dht: KadDHT }>
  private readonly log: Logger
  private readonly met = new Set<string>()
  private timer?: ReturnType<typeof setTimeout>
  private lastRun = 0
  private running = false
  private readonly controller = new AbortController()

  constructor (init: { libp2p: Libp2p<{ dht: KadDHT }>, log: Logger }) {
    this.libp2p = init.libp2p
    this.log = init.log
    this.onIdentify = this.onIdentify.bind(this)
  }

  start (): void {
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    clearTimeout(this.timer)
    this.controller.abort()
  }

  /** Look up our own id soon (coalesced with any other reason to). */
  soon (): void {
    if (this.timer != null || this.controller.signal.aborted) return
    const delay = Math.max(INTRODUCTION_DELAY_MS, this.lastRun + INTRODUCTION_MIN_GAP_MS - Date.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.run()
    }, delay)
    this.timer.unref()
  }

  private onIdentify (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void {
    const { peerId, protocols } = evt.detail
    const id = peerId.toString()
    if (!protocols.includes(DHT_PROTOCOL) || this.met.has(id)) return
    this.met.add(id)
    if (this.met.size > MET_REMEMBERED) this.met.delete(this.met.values().next().value as string)
    this.soon()
  }

  private async run (): Promise<void> {
    if (this.running) {
      this.soon()
      return
    }
    this.running = true
    this.lastRun = Date.now()
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(INTRODUCTION_TIMEOUT_MS)])
    let answers = 0
    try {
      // the devices found are passed on as discoveries by the DHT itself, and dialled
      for await (const event of this.libp2p.services.dht.getClosestPeers(this.libp2p.peerId.toMultihash().bytes, { signal })) {
        if (event.name === 'PEER_RESPONSE') answers++
      }
      this.log('looked up our own id in the DHT: %d devices answered', answers)
    } catch (err) {
      this.log('DHT lookup of our own id ended - %s', (err as Error).message)
    } finally {
      this.running = false
    }
  }
}
