import { PAIR_FAILURE_WINDOW_MS, PAIR_MAX_FAILURES } from './constants.ts'

/**
 * How many pairing attempts may fail. Wrong codes count for all joiners together: each is
 * one online guess, and an attacker can take any number of device ids and reconnect at will.
 * Timeouts count per device only, so a stranger who opens requests and walks away cannot
 * lock the person out.
 */
export class PairingBudget {
  private wrong: number[] = []
  private readonly timeouts = new Map<string, number[]>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  /** A wrong code; returns how many in the window. */
  wrongCode (): number {
    this.wrong = this.recent(this.wrong)
    this.wrong.push(this.now())
    return this.wrong.length
  }

  timedOut (device: string): void {
    const list = this.recent(this.timeouts.get(device) ?? [])
    list.push(this.now())
    this.timeouts.set(device, list)
    // forget devices whose timeouts all passed, so strangers cannot grow the map
    for (const [id, times] of this.timeouts) if (this.recent(times).length === 0) this.timeouts.delete(id)
  }

  /** Why a request from `device` is refused now, if it is. */
  refusal (device: string): string | undefined {
    const minutes = PAIR_FAILURE_WINDOW_MS / 60_000
    const wait = this.blockedFor(this.wrong)
    if (wait > 0) return `too many failed attempts to pair with this device (${PAIR_MAX_FAILURES} wrong codes in ${minutes} minutes); try again in ${Math.ceil(wait / 60_000)} minute(s)`
    const waitDevice = this.blockedFor(this.timeouts.get(device) ?? [])
    if (waitDevice > 0) return `too many failed attempts from this device (${PAIR_MAX_FAILURES} in ${minutes} minutes); try again in ${Math.ceil(waitDevice / 60_000)} minute(s)`
    return undefined
  }

  private recent (times: number[]): number[] {
    const now = this.now()
    return times.filter(t => now - t < PAIR_FAILURE_WINDOW_MS)
  }

  private blockedFor (times: number[]): number {
    const recent = this.recent(times)
    return recent.length >= PAIR_MAX_FAILURES ? (recent[recent.length - PAIR_MAX_FAILURES] ?? 0) + PAIR_FAILURE_WINDOW_MS - this.now() : 0
  }
}
