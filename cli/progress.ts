/**
 * One progress bar on a terminal (stderr, redrawn in place on one line): filled to a known
 * fraction, or running back and forth while the total is not known (`sms import` reads a store
 * whose size it cannot know ahead). Silent when stderr is no terminal.
 */
export class ProgressBar {
  private readonly write: ((text: string) => void) | undefined
  private step = 0
  private shown = false

  /** `write`: where the line goes; none = nothing is drawn (not a terminal, or --json). */
  constructor (write: ((text: string) => void) | undefined) {
    this.write = write
  }

  /** A bar for stderr if it is a terminal and `quiet` is false. */
  static onStderr (quiet: boolean): ProgressBar {
    return new ProgressBar(!quiet && process.stderr.isTTY ? (text) => { process.stderr.write(text) } : undefined)
  }

  /** Draw `text` beside the bar: filled to `fraction` (0–1), or running when undefined. */
  draw (fraction: number | undefined, text: string): void {
    if (this.write == null) return
    const width = 24
    let bar: string
    if (fraction == null) {
      const at = this.step++ % (width - 2)
      bar = '·'.repeat(at) + '███' + '·'.repeat(width - at - 3)
    } else {
      const filled = Math.round(width * Math.min(1, Math.max(0, fraction)))
      bar = '█'.repeat(filled) + '·'.repeat(width - filled)
    }
    this.write(`\r[${bar}] ${text}\x1b[K`)
    this.shown = true
  }

  /** Clear the line (before the command prints its result). */
  end (): void {
    if (this.shown) this.write?.('\r\x1b[K')
    this.shown = false
  }
}
