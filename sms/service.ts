import { join } from 'node:path'
import type { Logger, PrivateKey } from '@libp2p/interface'
import type { Capability } from '../node/identity/records.ts'
import type { DeviceId, Relation } from '../node/identity/relation.ts'
import type { ChannelService, Tunnels } from '../link/index.ts'
import type { SmsBackend } from './backends/backend.ts'
import { createBackend, NO_BACKEND } from './backends/registry.ts'
import { SmsClient, type NewMessage, type ProxyCandidate } from './client.ts'
import { DEFAULT_SMS_RATE, SMS_SUBMIT_PROTOCOL, type SmsStatus } from './constants.ts'
import { InvalidSmsError, UnknownMessageError } from './errors.ts'
import { EventSigner } from './signed-events.ts'
import type { ViewChange } from './materialize.ts'
import { conversationOf, numberOrNone } from './codec/numbers.ts'
import { SmsProxy, type ProxyPolicy } from './proxy.ts'
import { SmsStore } from './store.ts'
import { HistoryImport } from './history.ts'
import { PhoneHistory, type ImportReport } from './phone-history.ts'
import { NumberChecks } from './number-checks.ts'
import { NetworkTexts, NotCarriedError, type Arriving, type Binding, type Carried, type Receipt } from './network-texts.ts'
import { serveOutsiders, type ProtocolHandlers } from './submit-protocol.ts'
import { SmsSync } from './sync.ts'
import { planMessage, type Encoding } from './codec/plan.ts'
import { getMessage, listConversations, listMessages, unreadIn } from './views.ts'
import { waitForStatus } from './wait.ts'
import type { ContactView, ConversationView, MessageView } from './view-types.ts'
import { BlobStore } from '../blobs/blob-store.ts'
import { BlobChannel } from '../blobs/blob-channel.ts'
import { Attachments } from './attachments.ts'
import { SendRouting } from './send-routing.ts'

export const SMS_DB_FILE = 'sms.db'
/** Attachments, by the SHA-256 of their bytes, in the data directory. */
export const BLOBS_DIR = 'blobs'
/**
 * How often waiting messages look for a proxy besides every link and profile change (which
 * is when one appears): a safety net, so rare that an idle daemon does not wake for it.
 */
const ASSIGN_INTERVAL_MS = 60_000
/** Why a text this device wrote before it left its account was not sent. */
const LEFT_ACCOUNT = 'not sent: this device left its account (or was removed) before a phone took it'

/** A device as the SMS service needs to know it. */
export interface SmsDevice {
  id: DeviceId
  relation: Relation
  capabilities: Capability[]
  /** Which of its profiles this device holds (a public one carries no capabilities); events that depend on its backend wait for 'full'. */
  profileShown?: 'full' | 'public'
}

export interface SmsServiceInit {
  dataDir: string
  deviceKey: PrivateKey
  /** This device's id. */
  self: string
  /** The node's protocol handlers, for the one protocol outside the tunnel (refusals to strangers). */
  protocols: ProtocolHandlers
  tunnels: Tunnels
  /** `--sms` value. */
  backend: string
  members(): SmsDevice[]
  isMember(device: string): boolean
  /**
   * A device of the account whose log is still taken though it is not a member we know: removed
   * (its log up to its removal is the account's history) or listed by the newest epoch but not
   * met yet. A device that joins later gets the whole history, every author's.
   */
  ofAccount?(device: string): boolean
  /** Devices the account removed, with the time of the epoch that removed each (texts they left unsaid end). */
  removals?(): ReadonlyMap<string, number>
  /** The master list: may `device` use `capability` here? */
  may(device: string, capability: string): boolean
  /** Members the master list refuses `capability`. */
  denied(capability: string): string[]
  policy(): ProxyPolicy
  /** This device's SMS capabilities changed (backend ready, SIM facts): republish the profile. */
  capabilitiesChanged(): void
  /** Every change of a message, for the event stream. */
  onChange(type: MessageChange, message: MessageView): void
  /** Contacts changed: `changed` of them, on this device or another. */
  onContactsChange(changed: number): void
  /** This phone's number may be found by other companion accounts (`--no-discoverable` off). */
  discoverable?: boolean
  /** Carry a text device to device to a device of `account` (the node's side); throws NotCarriedError. */
  carry?(text: Carried, binding: Binding, signal: AbortSignal): Promise<void>
  /** Texts went by SMS to numbers not verified: someone may claim them (verify in the background). */
  unverified?(numbers: string[]): void
  /** Tell other accounts when their texts were read here (`--read-receipts`), and how. */
  readReceipts?: boolean
  sendReceipt?(receipt: Receipt, binding: Binding, signal: AbortSignal): Promise<void>
  /** Whether anyone follows the event stream (else changes are not worth a view). */
  watched(): boolean
  log: Logger
}

/** What changed of a message, for the event stream. */
export type MessageChange = Exclude<ViewChange['type'], 'contact'>

/** `route`: force one way (`network`: device to device only; `sms`: through a phone only); else the cheapest that works. */
/** `attachments`: files uploaded here (what the upload answered); they go device to device only. */
export interface SendRequest { to: string[], body: string, via?: SmsDevice, route?: 'network' | 'sms', attachments?: unknown[] }

/** A device with an SMS backend offers sms.receive (and sms.send) in its profile. */
function hasBackend (device: SmsDevice | undefined): boolean {
  return device?.capabilities.some(c => c.name === 'sms.receive') === true
}

/** Whether a member has a backend; undefined while its full profile is not known (not a member of this epoch yet, or only its public profile held). */
function backendOf (device: SmsDevice | undefined): boolean | undefined {
  return device == null || device.profileShown !== 'full' ? undefined : hasBackend(device)
}


/** The SMS service of one device: store, replication, and the client and proxy roles. */
export class SmsService {
  private readonly init: SmsServiceInit
  readonly store: SmsStore
  private readonly backend?: SmsBackend
  private readonly proxy?: SmsProxy
  private readonly history?: HistoryImport
  private readonly phoneHistory: PhoneHistory
  /** Numbers verified to belong to other accounts, and the codes that verify them. */
  readonly numberChecks: NumberChecks
  private readonly network: NetworkTexts
  /** Files of texts device to device. */
  readonly attachments: Attachments
  readonly blobs: BlobStore
  private readonly client: SmsClient
  private readonly routing: SendRouting
  private readonly sync: SmsSync
  private readonly blobChannel: BlobChannel
  private readonly onActive: () => void
  /** A device came: besides proxies, the small attachments still missing may come from it. */
  private readonly onTunnelUp: () => void
  private assignTimer?: ReturnType<typeof setInterval>
  private stopped = false

  private constructor (init: SmsServiceInit) {
    this.init = init
    const self = init.self
    this.store = new SmsStore({
      path: join(init.dataDir, SMS_DB_FILE),
      self,
      signer: new EventSigner(init.deviceKey),
      hasBackend: (device) => device === self ? init.backend !== NO_BACKEND : backendOf(init.members().find(m => m.id === device))
    })
    this.store.on('refused', (entries) => {
      for (const e of entries) {
        // a profile still on its way is the normal order of things after an epoch change, not an attack
        if (e.pending === true) init.log('kept event %d of %s without applying it yet - %s', e.seq, e.origin, e.reason)
        else init.log.error('kept event %d of %s without applying it - %s', e.seq, e.origin, e.reason)
      }
    })
    this.backend = createBackend(init.backend, {
      incoming: async (sms) => { await this.proxy?.incoming(sms) },
      report: async (report) => { await this.proxy?.report(report) },
      stored: async (entries) => { await this.history?.take(entries) },
      changed: () => {
        init.capabilitiesChanged()
        this.proxy?.kick()
        this.assignWaiting()
        this.phoneHistory.firstImport()
      }
    })
    if (this.backend != null) {
      this.proxy = new SmsProxy({
        store: this.store,
        backend: this.backend,
        maySend: (device) => init.may(device, 'sms.send'),
        receivers: () => this.receivers(),
        policy: init.policy,
        network: {
          binding: (recipient) => this.network.binding([recipient]),
          carry: async (text, binding, signal) => {
            if (init.carry == null) throw new NotCarriedError('this device cannot carry texts over the network', false)
            await init.carry(text, binding, signal)
          }
        },
        log: init.log
      })
    }
    if (this.backend?.history != null) {
      this.history = new HistoryImport({ store: this.store, backend: this.backend, receivers: () => this.receivers(), log: init.log })
    }
    this.phoneHistory = new PhoneHistory({
      store: this.store,
      tunnels: init.tunnels,
      ...(this.backend == null ? {} : { backend: this.backend }),
      ...(this.history == null ? {} : { history: this.history }),
      mayReceive: (device) => init.isMember(device) && init.may(device, 'sms.receive'),
      reachablePhones: () => init.members().filter(m => hasBackend(m) && init.tunnels.reachable(m.id)).map(m => m.id),
      receivers: () => this.receivers(),
      country: () => this.country(),
      log: init.log
    })
    this.numberChecks = new NumberChecks({
      store: this.store,
      // the code goes by SMS, whatever is known of the number (it is what is being checked)
      send: async (to, body) => await this.send({ to, body, route: 'sms' }),
      waitFor: async (id, status, signal) => await this.waitFor(id, status, signal)
    })
    this.blobs = new BlobStore(join(init.dataDir, BLOBS_DIR))
    const blobChannel = new BlobChannel({ store: this.blobs, tunnels: init.tunnels, mayServe: (_device, sha256) => this.attachments.named(sha256), log: init.log })
    this.attachments = new Attachments({
      store: this.store,
      blobs: this.blobs,
      channel: blobChannel,
      reachable: () => init.members().map(m => m.id).filter(id => init.tunnels.reachable(id)),
      log: init.log
    })
    this.network = new NetworkTexts({
      store: this.store,
      hasBlob: (sha256) => this.blobs.has(sha256),
      ownNumber: () => this.ownNumber(),
      carry: async (text, binding, signal) => {
        if (init.carry == null) throw new NotCarriedError('this device cannot carry texts over the network', false)
        await init.carry(text, binding, signal)
      },
      deny: () => init.policy().deny,
      rate: DEFAULT_SMS_RATE,
      readReceipts: init.readReceipts === true,
      sendReceipt: async (receipt, binding, signal) => {
        if (init.sendReceipt == null) throw new NotCarriedError('this device cannot send receipts', false)
        await init.sendReceipt(receipt, binding, signal)
      },
      log: init.log
    })
    this.network.onFallback = () => { this.assignWaiting() }
    this.client = new SmsClient({ store: this.store, candidates: () => this.candidates(), log: init.log })
    this.routing = new SendRouting({
      client: this.client,
      network: this.network,
      attachments: this.attachments,
      hasBackend: () => this.backend != null,
      ...(init.unverified == null ? {} : { unverified: init.unverified })
    })
    this.sync = new SmsSync({ store: this.store, tunnels: init.tunnels, isMember: init.isMember, ofAccount: init.ofAccount, log: init.log })
    this.blobChannel = blobChannel
    this.onActive = () => { this.assignWaiting() }
    this.onTunnelUp = () => { this.assignWaiting(); this.attachments.retry() }
  }

  static async start (init: SmsServiceInit): Promise<SmsService> {
    const service = new SmsService(init)
    try {
      await service.attachments.start()
      await service.proxy?.start()
      await service.backend?.start()
      service.store.on('changes', (changes) => { service.publish(changes) })
      await serveOutsiders(init.protocols)
      service.sync.start(init.members().map(m => m.id))
      init.tunnels.addEventListener('tunnel:up', service.onTunnelUp)
      init.tunnels.addEventListener('tunnel:down', service.onActive)
      service.assignWaiting()
      service.network.kick()
      service.phoneHistory.firstImport()
      await service.store.devicesRemoved(init.removals?.() ?? new Map())
      // events kept unapplied before a restart, whose devices' profiles are known by now
      service.reconsider()
      // a proxy appears by a link or a profile change (above); a cheap query now and then catches any other case
      service.assignTimer = setInterval(() => { service.assignWaiting() }, ASSIGN_INTERVAL_MS)
      service.assignTimer.unref()
    } catch (err) {
      await service.stop()
      throw err
    }
    return service
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.network.stop()
    this.attachments.stop()
    clearInterval(this.assignTimer)
    this.init.tunnels.removeEventListener('tunnel:up', this.onTunnelUp)
    this.init.tunnels.removeEventListener('tunnel:down', this.onActive)
    this.sync.stop()
    this.proxy?.stop()
    await this.backend?.stop()
    await this.init.protocols.unhandle(SMS_SUBMIT_PROTOCOL).catch(() => {})
    // let queued writes finish before closing the file
    await this.store.write(() => {}).catch(() => {})
    this.store.close()
  }

  /** The channels the SMS service serves (the daemon registers them with every other channel service). */
  channelServices (): ChannelService[] {
    return [this.sync.channel, this.phoneHistory.channel, this.blobChannel.channel]
  }

  /** What this device offers as a proxy, for its capability profile. */
  capabilities (): Capability[] {
    if (this.backend == null) return []
    const sim = this.backend.facts
    const denied = this.init.denied('sms.send')
    const facts = { ...sim, ...(this.init.discoverable === false || sim.number == null ? {} : { discoverable: true }) }
    return [{ name: 'sms.send', sim: facts, ...(denied.length === 0 ? {} : { denied }) }, { name: 'sms.receive', sim: facts }]
  }

  status (): { backend: string, ready: boolean, number?: string } {
    const number = this.backend?.facts.number
    return { backend: this.init.backend, ready: this.backend?.ready ?? false, ...(number == null ? {} : { number }) }
  }

  private publish (changes: ViewChange[]): void {
    if (!this.init.watched()) return
    const contacts = changes.filter(c => c.type === 'contact').length
    if (contacts > 0) this.init.onContactsChange(contacts)
    // one event per message and batch, with its newest view: the first kind of change names it
    const byId = new Map<string, MessageChange>()
    for (const change of changes) if (change.type !== 'contact' && !byId.has(change.id)) byId.set(change.id, change.type)
    for (const [id, type] of byId) {
      const message = getMessage(this.store.db, id, this.has)
      if (message != null) this.init.onChange(type, message)
    }
  }

  /** Devices or their profiles changed: a proxy may have appeared, and events kept unapplied may now apply. */
  devicesChanged (): void {
    // (also how a device that joined an account learns whom it removed before)
    this.devicesRemoved()
    this.assignWaiting()
    this.network.kick()
    this.reconsider()
  }

  /**
   * This device left its account or was removed from it: its texts no phone took will never
   * go (unless it has a backend of its own: then they go through it).
   */
  accountLeft (): void {
    if (this.stopped || this.backend != null) return
    void this.client.endWaiting(LEFT_ACCOUNT).then(n => { if (n > 0) this.init.log('ended %d texts no phone took: this device left its account', n) }, err => { this.init.log.error('could not end the texts no phone took - %e', err) })
  }

  /** The account removed devices: what they left unsaid ends now (SmsStore.devicesRemoved). */
  devicesRemoved (): void {
    if (this.stopped) return
    void this.store.devicesRemoved(this.init.removals?.() ?? new Map()).catch(err => { this.init.log.error('could not end the texts of removed devices - %e', err) })
  }

  /** Apply the events kept unapplied that the rules now admit. */
  private reconsider (): void {
    if (this.stopped) return
    void this.store.reconsider().catch(err => { this.init.log.error('could not apply events kept earlier - %e', err) })
  }

  private assignWaiting (): void {
    if (this.stopped) return
    void this.client.assignWaiting().catch(err => { this.init.log.error('could not hand waiting messages to a proxy - %e', err) })
  }

  private candidates (): ProxyCandidate[] {
    const list: ProxyCandidate[] = this.init.members().flatMap(m => {
      const cap = m.capabilities.find(c => c.name === 'sms.send')
      if (cap == null) return []
      const refusesUs = cap.denied?.includes(this.store.self) === true
      return [{ id: m.id, reachable: this.init.tunnels.reachable(m.id), refusesUs, ...(cap.sim == null ? {} : { sim: cap.sim }) }]
    })
    if (this.backend != null) list.push({ id: this.store.self, reachable: this.backend.ready, sim: this.backend.facts })
    return list
  }

  /** Devices that may see incoming SMS; undefined when every member may. */
  private receivers (): string[] | undefined {
    const members = this.init.members().map(m => m.id)
    const allowed = members.filter(id => this.init.may(id, 'sms.receive'))
    return allowed.length === members.length ? undefined : [this.store.self, ...allowed]
  }

  async send (req: SendRequest): Promise<NewMessage & { status: SmsStatus, reason?: string, parts: number, encoding: Encoding }> {
    const plan = planMessage(req.body)
    const shape = { parts: plan.parts.length, encoding: plan.encoding }
    return { ...await this.routing.submit(req), ...shape }
  }

  /** Whether this device holds a blob whole (for the views' `here`). */
  private readonly has = (sha256: string): boolean => this.blobs.has(sha256)

  get (id: string): MessageView {
    const message = getMessage(this.store.db, id, this.has)
    if (message == null) throw new UnknownMessageError(`no message has the id ${id}; see companion sms list`)
    return message
  }

  list (options: { with?: string, search?: string, limit?: number, before?: number }): MessageView[] {
    const conversation = options.with == null ? undefined : conversationOf(options.with.split(','))
    return listMessages(this.store.db, { conversation, search: options.search, limit: options.limit ?? 100, before: options.before }, this.has)
  }

  conversations (): ConversationView[] {
    return listConversations(this.store.db)
  }

  /** Mark a message, or every unread message of a conversation, read on every device. */
  async read (target: string): Promise<{ read: number }> {
    let ids: string[]
    if (getMessage(this.store.db, target) != null) ids = [target]
    else {
      let conversation: string
      try {
        conversation = conversationOf(target.split(','))
      } catch {
        throw new UnknownMessageError(`"${target}" is neither a message id nor a phone number; see companion sms list`)
      }
      ids = unreadIn(this.store.db, conversation)
    }
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500)
      await this.store.write(tx => { tx.append({ type: 'read', ids: chunk, at: Date.now() }) })
    }
    return { read: ids.length }
  }

  /**
   * Import a phone's store into the log: this device's own, or that of `via` (a member phone),
   * or, with neither, of the one phone of the account that is reachable.
   */
  async importHistory (options: { via?: SmsDevice, since?: number, onProgress?: (p: ImportReport) => void }): Promise<ImportReport> {
    const via = options.via
    const isPhone = via == null || via.relation === 'self' || (via.relation === 'member' && hasBackend(via))
    if (!isPhone) throw new InvalidSmsError(`${via.id} is no phone of this account; choose one of companion devices`)
    return await this.phoneHistory.import({ ...options, via: via?.relation === 'self' ? 'self' : via?.id })
  }

  /** A text from another companion account, proven by the node: stored, or refused (InvalidSmsError). */
  async receiveNetworkText (text: Arriving): Promise<void> {
    await this.network.receive(text)
  }

  /** A read receipt from another companion account, proven by the node: taken, or refused (InvalidSmsError). */
  async receiveReceipt (receipt: Receipt & { account: string }): Promise<void> {
    await this.network.receipt(receipt)
  }

  /** The number this account texts from: this phone's, else a phone's of the account. */
  private ownNumber (): string | undefined {
    return numberOrNone(this.backend?.facts.number) ?? this.init.members().map(m => m.capabilities.find(c => c.name === 'sms.send')?.sim?.number).find(n => n != null)
  }

  contacts (): ContactView[] {
    return this.phoneHistory.contacts()
  }

  async importVCard (text: string): Promise<{ contacts: number, unreadable: number }> {
    return await this.phoneHistory.importVCard(text)
  }

  /** The numbering plan national numbers are read in: this phone's SIM's, else a phone's of the account. */
  private country (): string | undefined {
    return this.backend?.facts.country ?? this.init.members().map(m => m.capabilities.find(c => c.name === 'sms.receive')?.sim?.country).find(c => c != null)
  }

  /** Resolves when the message reaches `status` (or a later one); rejects on a final failure. */
  async waitFor (id: string, status: SmsStatus, signal: AbortSignal): Promise<MessageView> {
    return await waitForStatus(this.store, (m) => this.get(m), id, status, signal)
  }

}
