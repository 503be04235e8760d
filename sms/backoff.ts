/** A retry delay that starts at `minMs` and doubles up to `maxMs` until it is reset (after a success). */
export class Backoff {
  private readonly minMs: number
  private readonly maxMs: number
  private currentMs: number

  constructor (minMs: number, maxMs: number) {
    this.minMs = minMs
    this.maxMs = maxMs
    this.currentMs = minMs
  }

  /** The delay to wait now; the next one is twice as long. */
  next (): number {
    const ms = this.currentMs
    this.currentMs = Math.min(ms * 2, this.maxMs)
    return ms
  }

  reset (): void {
    this.currentMs = this.minMs
  }
}
