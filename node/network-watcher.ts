import { localInterfaces } from '../link/index.ts'
import { INTERFACE_POLL_MS } from './constants.ts'

/**
 * Notices when this device joins or leaves a network (an address appears or goes), so
 * discovery can ask again at once instead of waiting for its next periodic query.
 * Linux has no portable event for this without netlink; polling every 2 s is cheap.
 */
export class NetworkWatcher {
  private readonly onChange: () => void
  private readonly intervalMs: number
  private timer?: ReturnType<typeof setInterval>
  private last = ''

  constructor (onChange: () => void, intervalMs = INTERFACE_POLL_MS) {
    this.onChange = onChange
    this.intervalMs = intervalMs
  }

  static snapshot (): string {
    const addrs: string[] = []
    // fresh: this poll is what keeps the shared copy (link/link-kind.ts) current
    for (const [name, list] of Object.entries(localInterfaces(true))) {
      for (const addr of list ?? []) {
        // the scope of an IPv6 address is its interface's index: an interface plugged back in is new
        if (!addr.internal) addrs.push(`${name}/${addr.cidr ?? addr.address}${addr.family === 'IPv6' ? `%${addr.scopeid ?? ''}` : ''}`)
      }
    }
    return addrs.sort().join(',')
  }

  start (): void {
    this.last = NetworkWatcher.snapshot()
    this.timer = setInterval(() => {
      const now = NetworkWatcher.snapshot()
      if (now === this.last) return
      this.last = now
      this.onChange()
    }, this.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
  }
}
