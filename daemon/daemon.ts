import { chmod, mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { AccountStore, Grants, createDeviceNode, loadOrCreateDeviceKey, openDeviceBook, validateDeviceKind, validateDeviceName, type DeviceNode, type PowerFacts, type ProfileBook, type SelfDescription } from '../node/index.ts'
import { freeDualStackPort, listenAddresses } from './ports.ts'
import { POWER_POLL_MS, powerChanged, readPower } from './power.ts'
import { ControlServer } from './control/server.ts'
import { controlRoutes } from './control/routes.ts'
import { identityRoutes } from './control/identity-routes.ts'
import { DeviceDirectory } from './devices.ts'
import { DataDirError } from './errors.ts'
import { DaemonEvents } from './daemon-events.ts'
import { IdentityApi } from './identity.ts'
import { DataDirLock } from './lock.ts'
import { controlSocketPath, UI_SESSIONS_FILE } from './paths.ts'
import { loadSettings, parseInterfaceKind, parsePort, saveSettings, type Settings } from './settings.ts'
import { DEFAULT_SMS_RATE, NO_BACKEND, SmsService, normalizeNumber, type SmsDevice } from '../sms/index.ts'
import { smsRoutes } from './control/sms-routes.ts'
import { attachmentRoutes } from './control/attachment-routes.ts'
import { shareRoutes } from './control/share-routes.ts'
import { DEFAULT_SHARE_MAX_BYTES, defaultDownloads, SHARE_CAPABILITY, ShareService } from '../share/index.ts'
import { numberRoutes } from './control/number-routes.ts'
import { AccountNumbers } from './numbers.ts'
import { LinkService } from './link-api.ts'
import { ChannelPolicy, echoService, forwardService, registerChannelServices } from './channels/index.ts'
import { SelfApi } from './self-api.ts'
import { linkRoutes } from './control/link-routes.ts'
import type { Route } from './control/router.ts'
import { uiRoutes } from './control/ui-routes.ts'
import { UiServer, UI_HOST } from './ui/server.ts'
import { UiSessions } from './ui/sessions.ts'
import { defaultUiDir, StaticFiles } from './ui/static-files.ts'
import { startMemoryTrimmer, type MemoryTrimmer } from './memory-trim.ts'

const log = logger('companion:daemon')

export interface DaemonOptions {
  dataDir: string
  name?: string
  kind?: string
  /** Listen multiaddrs; default every IPv4 interface on the remembered port. */
  listen?: string[]
  /** @default true */
  mdns?: boolean
  bootstrap?: string[]
  /** SMS backend URI (`none`, `sim://HOST:PORT/NUMBER`). */
  sms?: string
  /** Messages per minute each device may send through this proxy. */
  smsRate?: number
  /** Numbers never texted (remembered; replaces the list). */
  smsDeny?: string[]
  /** Short codes / premium numbers allowed (remembered; replaces the list). */
  smsAllow?: string[]
  /** `IFACE=KIND` overrides of the link kind an interface gives (remembered). */
  interfaceKinds?: string[]
  /** Local ports other devices may reach with `companion forward` (remembered; replaces the list). */
  allowPorts?: string[]
  /** Seconds channels survive without any link. */
  tunnelGraceS?: number
  /** Loopback port of the web page (remembered); default the remembered one, else any free port. */
  uiPort?: number
  /** Serve the web page at all. @default true */
  ui?: boolean
  /** A phone publishes its number for other accounts to find (number claims). @default true */
  discoverable?: boolean
  /** Tell other companion accounts when their texts were read here. @default false */
  readReceipts?: boolean
  /** Where files shared from other devices land; default the XDG download directory, else ~/Downloads. */
  downloads?: string
  /** The largest file taken from another device. @default 4 GiB */
  shareMax?: number
}

function parseAddrs (addrs: string[], what: string): Multiaddr[] {
  return addrs.map(a => {
    try {
      return multiaddr(a)
    } catch (err) {
      throw new DataDirError(`${what} ${a} is not a multiaddr (${(err as Error).message}); e.g. /ip4/198.18.1.2/tcp/4001`)
    }
  })
}

async function ensureDataDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const info = await stat(dir)
  if (!info.isDirectory()) throw new DataDirError(`${dir} is not a directory`)
  // keys and the control socket live here: nobody else may look inside
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700)
}

/** The daemon of one device: it composes the node, its services and the control API, and nothing else. */
export class Daemon {
  readonly events = new DaemonEvents()
  readonly dataDir: string
  readonly socketPath: string
  private readonly lock: DataDirLock
  /** The remembered settings, replaced as a whole when they change (a rename). */
  private readonly settings: { current: Settings } = { current: undefined as unknown as Settings }
  private book?: ProfileBook
  private node!: DeviceNode
  private control!: ControlServer
  private ui?: UiServer
  identity!: IdentityApi
  sms?: SmsService
  private numbers?: AccountNumbers
  private shares?: ShareService
  private unregisterChannels?: () => void
  private power: PowerFacts | undefined = readPower()
  private powerTimer?: ReturnType<typeof setInterval>
  private trimmer?: MemoryTrimmer

  private constructor (options: DaemonOptions) {
    this.dataDir = options.dataDir
    this.socketPath = controlSocketPath(options.dataDir)
    this.lock = new DataDirLock(options.dataDir)
  }

  get id (): PeerId {
    return this.node.libp2p.peerId
  }

  static async start (options: DaemonOptions): Promise<Daemon> {
    const bootstrap = parseAddrs(options.bootstrap ?? [], '--bootstrap')
    if (options.listen != null) parseAddrs(options.listen, '--listen')
    // keys, databases and the socket: nothing the daemon creates is for other users
    process.umask(0o077)
    await ensureDataDir(options.dataDir)
    const daemon = new Daemon(options)
    await daemon.lock.acquire()
    try {
      await daemon.init(options, bootstrap)
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  /**
   * Settings, key, account and the devices this one knows come first; the grants and the
   * channel policy are built from them before the node exists; then the node, the services,
   * the channel services (one list) and the control API.
   */
  private async init (options: DaemonOptions, bootstrap: Multiaddr[]): Promise<void> {
    const settings = await this.loadSettings(options)
    const privateKey = await loadOrCreateDeviceKey(this.dataDir)
    const account = await AccountStore.open(this.dataDir, privateKey)
    const book = openDeviceBook(this.dataDir, account)
    this.book = book
    const grants = new Grants({ dataDir: this.dataDir, isMember: (id) => book.relation(id) === 'member' })
    await grants.load()
    const policy = new ChannelPolicy({ grants, allowedPorts: () => this.settings.current.allowedPorts })
    this.node = await this.startNode(options, bootstrap, { privateKey, account, book, policy, settings })

    const directory = new DeviceDirectory({ libp2p: this.node.libp2p, book, self: () => this.describe(), links: this.node.libp2p.services.links })
    const self = new SelfApi({ dataDir: this.dataDir, node: this.node, directory, settings: this.settings, sms: () => this.sms?.status() ?? { backend: NO_BACKEND, ready: false } })
    this.identity = new IdentityApi({ node: this.node, directory, grants })
    const links = new LinkService({ node: this.node, directory })
    this.sms = await this.startSms(options, privateKey, grants)
    this.numbers = new AccountNumbers({ node: this.node, account, sms: () => this.sms as SmsService, discoverable: options.discoverable !== false, log: logger('companion:numbers') })
    // the profile went out before the SMS service existed: now it can say what the phone offers
    if (this.sms.capabilities().length > 0) void this.node.changed()
    await this.numbers.start()
    this.shares = new ShareService({
      dataDir: this.dataDir,
      tunnels: this.node.libp2p.services.tunnels,
      downloads: options.downloads ?? defaultDownloads(),
      maxBytes: options.shareMax ?? DEFAULT_SHARE_MAX_BYTES,
      may: (device) => grants.may(device, SHARE_CAPABILITY),
      log: logger('companion:share')
    })
    this.shares.on('change', (view) => { this.events.emit('share', view) })
    this.shares.start()
    this.unregisterChannels = registerChannelServices(this.node.libp2p.services.tunnels, [echoService, forwardService, ...this.sms.channelServices(), this.shares.channel])
    this.wireEvents()
    this.watchPower()
    // freed memory back to the system after bursts of work (glibc keeps it otherwise)
    this.trimmer = startMemoryTrimmer()
    const routes = [...controlRoutes(self, this.events), ...identityRoutes(this.identity), ...linkRoutes(links), ...smsRoutes(this.sms, directory), ...attachmentRoutes(this.sms), ...numberRoutes(this.numbers.verification, this.sms.numberChecks), ...shareRoutes(this.shares, directory, this.dataDir)]
    if (options.ui !== false) this.ui = await this.startUi(routes, options.uiPort)
    this.control = new ControlServer([...routes, ...uiRoutes(this.ui)])
    await this.control.listen(this.socketPath)
    log('device %p serving %s', this.node.libp2p.peerId, this.socketPath)
  }

  /** The remembered settings with this start's options applied (validated: a bad option changes nothing). */
  private async loadSettings (options: DaemonOptions): Promise<Settings> {
    const settings = await loadSettings(this.dataDir)
    if (options.name != null) settings.name = validateDeviceName(options.name)
    if (options.kind != null) settings.kind = validateDeviceKind(options.kind)
    for (const text of options.interfaceKinds ?? []) {
      const [iface, kind] = parseInterfaceKind(text)
      settings.interfaceKinds[iface] = kind
    }
    if (options.allowPorts != null) settings.allowedPorts = options.allowPorts.map(parsePort)
    if (options.smsDeny != null) settings.smsDeny = options.smsDeny.map(normalizeNumber)
    if (options.smsAllow != null) settings.smsAllow = options.smsAllow.map(normalizeNumber)
    this.settings.current = settings
    return settings
  }

  /** The node on the remembered port (any port, then remembered, when that one is taken). */
  private async startNode (options: DaemonOptions, bootstrap: Multiaddr[], parts: { privateKey: PrivateKey, account: AccountStore, book: ProfileBook, policy: ChannelPolicy, settings: Settings }): Promise<DeviceNode> {
    const { settings } = parts
    const nodeInit = {
      dataDir: this.dataDir,
      privateKey: parts.privateKey,
      account: parts.account,
      book: parts.book,
      mdns: options.mdns,
      bootstrap,
      describe: () => this.describe(),
      authorizeChannel: parts.policy.authorize,
      authorizeTunnel: parts.policy.authorizeTunnel,
      interfaceKinds: settings.interfaceKinds,
      tunnelGraceMs: options.tunnelGraceS == null ? undefined : options.tunnelGraceS * 1000
    }
    let port = settings.port === 0 ? await freeDualStackPort() : settings.port
    let node: DeviceNode
    try {
      node = await createDeviceNode({ ...nodeInit, listen: options.listen ?? listenAddresses(port) })
    } catch (err) {
      // the remembered port is taken by something else now: take any port and remember that
      if (options.listen != null || !String((err as Error).message).includes('EADDRINUSE')) throw err
      log('port %d is in use, listening on another', port)
      port = await freeDualStackPort()
      node = await createDeviceNode({ ...nodeInit, listen: listenAddresses(port) })
    }
    if (options.listen == null) settings.port = port
    await saveSettings(this.dataDir, settings)
    return node
  }

  /** The web page on 127.0.0.1: the remembered port, or any free one (remembered from then on). */
  private async startUi (routes: Route[], port: number | undefined): Promise<UiServer> {
    const sessions = new UiSessions({ file: join(this.dataDir, UI_SESSIONS_FILE) })
    await sessions.load()
    const dir = defaultUiDir()
    if (dir == null) log.error('the web page was not built (no dist/ui): its API answers, the page does not')
    const ui = new UiServer({ routes, sessions, files: dir == null ? undefined : await StaticFiles.load(dir) })
    const wanted = port ?? this.settings.current.uiPort
    try {
      await ui.listen(wanted)
    } catch (err) {
      if (port != null || wanted === 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new DataDirError(`the web page cannot listen on ${UI_HOST}:${wanted}: ${(err as Error).message}`)
      log('web page port %d is in use, taking another', wanted)
      await ui.listen(0)
    }
    if (ui.port !== this.settings.current.uiPort) {
      this.settings.current = { ...this.settings.current, uiPort: ui.port }
      await saveSettings(this.dataDir, this.settings.current)
    }
    return ui
  }

  private async startSms (options: DaemonOptions, deviceKey: PrivateKey, grants: Grants): Promise<SmsService> {
    const { libp2p, book } = this.node
    const rate = options.smsRate ?? DEFAULT_SMS_RATE
    const members = (): SmsDevice[] => book.all().filter(d => book.relation(d.id) === 'member').map(d => ({ id: d.id, relation: 'member' as const, capabilities: d.profile.capabilities, profileShown: d.profile.public ? 'public' as const : 'full' as const }))
    return await SmsService.start({
      dataDir: this.dataDir,
      deviceKey,
      self: libp2p.peerId.toString(),
      protocols: libp2p,
      tunnels: libp2p.services.tunnels,
      backend: options.sms ?? NO_BACKEND,
      members,
      isMember: (id) => book.relation(id) === 'member',
      ofAccount: (id) => this.node.account.named(id),
      removals: () => this.node.account.removals(),
      may: (device, capability) => grants.may(device, capability),
      denied: (capability) => grants.deniedFor(capability),
      policy: () => ({ rate, deny: this.settings.current.smsDeny, allow: this.settings.current.smsAllow }),
      capabilitiesChanged: () => { void this.node.changed(); this.numbers?.claims.publish() },
      discoverable: options.discoverable !== false,
      carry: async (text, binding, signal) => { await this.numbers?.carry(text, binding, signal) },
      unverified: (numbers) => { this.numbers?.unverified(numbers) },
      readReceipts: options.readReceipts === true,
      sendReceipt: async (receipt, binding, signal) => { await this.numbers?.sendReceipt(receipt, binding, signal) },
      onChange: (type, message) => { this.events.emit('sms', { type, message }) },
      onContactsChange: (changed) => { this.events.emit('contacts', { changed }) },
      watched: () => this.events.watched,
      log: logger('companion:sms')
    })
  }

  /** What this device says of itself in its profile. */
  private describe (): SelfDescription {
    const capabilities = [{ name: 'tunnel' }, { name: 'channels' }, ...(this.sms?.capabilities() ?? [])]
    return { name: this.settings.current.name, kind: this.settings.current.kind, capabilities, ...(this.power == null ? {} : { power: this.power }) }
  }

  /** Re-read power facts now and then; tell the other devices when they changed in steps. */
  private watchPower (): void {
    this.powerTimer = setInterval(() => {
      const now = readPower()
      if (!powerChanged(this.power, now)) return
      this.power = now
      void this.node.changed()
    }, POWER_POLL_MS)
    this.powerTimer.unref()
  }

  private wireEvents (): void {
    const { libp2p } = this.node
    libp2p.addEventListener('peer:connect', (evt) => {
      this.events.emit('device', { id: evt.detail.toString(), online: true })
    })
    libp2p.addEventListener('peer:disconnect', (evt) => {
      this.events.emit('device', { id: evt.detail.toString(), online: false })
    })
    libp2p.services.profiles.addEventListener('device:profile', (evt) => {
      const { peerId, profile, relation } = evt.detail
      this.events.emit('device', { id: peerId.toString(), online: true, name: profile.name, kind: profile.kind, relation })
      this.sms?.devicesChanged()
      // a phone of the account may have a number to be found by
      if (relation === 'member') this.numbers?.claims.publish()
    })
    // texts a removed device left unsaid end on every device that learns of the removal
    this.node.membership.addEventListener('devices:removed', () => { this.sms?.devicesRemoved() })
    this.node.membership.addEventListener('account:left', () => { this.sms?.accountLeft() })
    libp2p.services.links.addEventListener('link:active', (evt) => { this.events.emit('link', { device: evt.detail.device, active: evt.detail.connection != null }) })
    libp2p.services.pairing.addEventListener('pair:request', (evt) => { this.events.emit('pair', { type: 'request', ...evt.detail }) })
    libp2p.services.pairing.addEventListener('pair:ended', (evt) => { this.events.emit('pair', { type: 'ended', ...evt.detail }) })
  }

  async stop (): Promise<void> {
    if (this.powerTimer != null) clearInterval(this.powerTimer)
    this.trimmer?.stop()
    this.unregisterChannels?.()
    const started = Date.now()
    await this.control?.close().catch(err => { log.error('closing the control API failed - %e', err) })
    await this.ui?.close().catch(err => { log.error('closing the web page failed - %e', err) })
    log('control API closed after %d ms', Date.now() - started)
    this.shares?.stop()
    await this.numbers?.stop()
    await this.sms?.stop().catch(err => { log.error('stopping the SMS service failed - %e', err) })
    log('SMS service stopped after %d ms', Date.now() - started)
    await this.node?.stop().catch(err => { log.error('stopping the node failed - %e', err) })
    log('node stopped after %d ms', Date.now() - started)
    this.book?.close()
    await this.lock.release()
  }
}
