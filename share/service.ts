import { stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import type { Logger } from '@libp2p/interface'
import type { ChannelService, Tunnels } from '../link/index.ts'
import { chunkSizeFor, MAX_SHARE_TEXT_CHARS, PARTIAL_SWEEP_EVERY_MS, SHARE_CHANNEL, type ShareView } from './constants.ts'
import { InvalidShareError } from './errors.ts'
import { ShareReceiver } from './receiver.ts'
import { ShareSender } from './sender.ts'
import { SHARES_DB_FILE, ShareStore } from './share-store.ts'

export interface ShareServiceInit {
  dataDir: string
  tunnels: Tunnels
  /** Where received files land. */
  downloads: string
  maxBytes: number
  /** May this member share with this device (the `share` grant of the master list)? */
  may(device: string): boolean
  log: Logger
}

/**
 * Files and snippets between the devices of one account over the tunnel (channel `share`,
 * bulk priority, so texts and interactive channels stay quick): what `companion share`,
 * `companion shares` and the page use.
 */
export class ShareService extends EventEmitter<{ change: [ShareView] }> {
  private readonly init: ShareServiceInit
  private readonly store: ShareStore
  private readonly sender: ShareSender
  private readonly receiver: ShareReceiver
  readonly channel: ChannelService
  private readonly onTunnel = (): void => { this.sender.kick() }
  private sweeper?: ReturnType<typeof setInterval>

  constructor (init: ShareServiceInit) {
    super()
    this.init = init
    this.store = new ShareStore(join(init.dataDir, SHARES_DB_FILE))
    const changed = (view: ShareView): void => { this.emit('change', view) }
    this.sender = new ShareSender({ store: this.store, tunnels: init.tunnels, changed, log: init.log })
    this.receiver = new ShareReceiver({ store: this.store, downloads: init.downloads, maxBytes: init.maxBytes, may: init.may, changed, log: init.log })
    this.channel = { name: SHARE_CHANNEL, everyMember: true, serve: (channel) => { void this.receiver.serve(channel) } }
  }

  start (): void {
    this.init.tunnels.addEventListener('tunnel:up', this.onTunnel)
    this.sender.kick()
    const sweep = (): void => { void this.receiver.sweep().catch((err: Error) => { this.init.log.error('sweeping abandoned partial files failed - %e', err) }) }
    sweep()
    this.sweeper = setInterval(sweep, PARTIAL_SWEEP_EVERY_MS)
    this.sweeper.unref()
  }

  stop (): void {
    clearInterval(this.sweeper)
    this.init.tunnels.removeEventListener('tunnel:up', this.onTunnel)
    this.sender.stop()
    this.store.close()
  }

  /** Queue files (absolute paths) for devices; they are read (and hashed) as they are sent. */
  async shareFiles (paths: string[], devices: string[]): Promise<ShareView[]> {
    const files = await Promise.all(paths.map(async (path) => {
      const info = await stat(path).catch(() => { throw new InvalidShareError(`cannot read ${path}`) })
      if (!info.isFile()) throw new InvalidShareError(`${path} is not a file`)
      return { path, size: info.size, mtime: info.mtimeMs }
    }))
    const out: ShareView[] = []
    for (const file of files) {
      for (const device of devices) {
        out.push(this.store.add({ id: newId(), device, direction: 'out', kind: 'file', name: basename(file.path), size: file.size, mtime: file.mtime, chunk: chunkSizeFor(file.size), path: file.path, text: null }))
      }
    }
    for (const view of out) this.emit('change', view)
    this.sender.kick()
    return out
  }

  /** Queue a snippet (a link, a few lines) for devices. */
  shareText (text: string, devices: string[]): ShareView[] {
    if (text === '' || text.length > MAX_SHARE_TEXT_CHARS) throw new InvalidShareError(`a snippet is 1 to ${MAX_SHARE_TEXT_CHARS} characters`)
    const out = devices.map(device => this.store.add({ id: newId(), device, direction: 'out', kind: 'text', name: text.split('\n')[0]?.slice(0, 80) ?? 'text', size: text.length, path: null, text }))
    for (const view of out) this.emit('change', view)
    this.sender.kick()
    return out
  }

  list (): ShareView[] {
    return this.store.list()
  }

  /** Cancel an outgoing transfer not finished. */
  cancel (id: string): ShareView[] {
    const found = this.store.byId(id).filter(t => t.direction === 'out')
    if (found.length === 0) throw new InvalidShareError(`no transfer of this device has the id ${id}; see companion shares`)
    for (const t of found) if (t.state !== 'done' && t.state !== 'failed') this.sender.cancel(t)
    return this.store.byId(id).filter(t => t.direction === 'out')
  }

  /** A file another device shared here that arrived whole: its name, size and where it is. */
  received (id: string, device: string): { name: string, size: number, path: string } {
    const t = this.store.get(id, device, 'in')
    if (t == null || t.kind !== 'file' || t.state !== 'done' || t.path == null) throw new InvalidShareError(`no file from ${device} has the id ${id} here`)
    return { name: basename(t.path), size: t.size, path: t.path }
  }

  get (id: string, device: string): ShareView | undefined {
    return this.store.get(id, device, 'out')
  }
}

const newId = (): string => randomBytes(8).toString('hex')
