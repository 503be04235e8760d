import type { Logger } from '@libp2p/interface'
import { Priority, type Channel, type ChannelService, type Tunnels } from '../link/index.ts'
import type { SmsBackend } from './backends/backend.ts'
import { HISTORY_CHANNEL } from './constants.ts'
import { contactEvents, contactId, listContacts, type ContactDraft } from './contacts.ts'
import { HistoryUnavailableError, InvalidSmsError, SyncProtocolError } from './errors.ts'
import type { HistoryImport, ImportProgress } from './history.ts'
import { readJsonFrames, writeJsonFrames } from './json-frames.ts'
import { prepared } from './materialize.ts'
import type { SmsStore } from './store.ts'
import type { SmsEvent } from './signed-events.ts'
import type { ContactView } from './view-types.ts'
import { parseVCards } from './vcard.ts'
import { loadNumberPlans } from './national-numbers.ts'

/** What `sms import` reports: progress of the store's texts, then how many contacts came with them. */
export interface ImportReport extends ImportProgress {
  contacts?: number
}

export interface PhoneHistoryInit {
  store: SmsStore
  tunnels: Tunnels
  /** This device's backend and its store reader, on a phone. */
  backend?: SmsBackend
  history?: HistoryImport
  /** May `device` see this phone's texts (sms.receive)? Only such a device may ask for an import. */
  mayReceive(device: string): boolean
  /** The account's phones (other than this device) with a tunnel now. */
  reachablePhones(): string[]
  /** Who may see what the phone's store holds; undefined when every member may. */
  receivers(): string[] | undefined
  /** The country whose numbering plan national numbers are read in (the SIM's, or a phone's of the account). */
  country(): string | undefined
  log: Logger
}

/** The mark of a backend whose store was imported once (when first attached). */
const imported = (uri: string): string => `history-imported:${uri}`

/**
 * The phone's history and the account's contacts: importing the store (here on a phone, or
 * asked of a phone over the `sms-history` channel), the phone's contacts, vCard files.
 */
export class PhoneHistory {
  private readonly init: PhoneHistoryInit
  private firstRunning = false
  readonly channel: ChannelService

  constructor (init: PhoneHistoryInit) {
    this.init = init
    this.channel = { name: HISTORY_CHANNEL, everyMember: true, serve: (channel) => { void this.serve(channel) } }
  }

  /** On a phone whose store was never imported: import it once, in the background. */
  firstImport (): void {
    const { backend, history, store } = this.init
    if (backend == null || history == null || !backend.ready || this.firstRunning) return
    if (prepared(store.db, 'SELECT 1 FROM local_state WHERE key = ?').get(imported(backend.uri)) != null) return
    this.firstRunning = true
    void this.importHere({}).then(async (report) => {
      await store.write(tx => { prepared(tx.db, 'INSERT OR REPLACE INTO local_state (key, value) VALUES (?, ?)').run(imported(backend.uri), String(Date.now())) })
      this.init.log('imported the phone\'s store: %d texts read, %d new, %d contacts', report.scanned, report.added, report.contacts ?? 0)
    }, err => {
      this.init.log.error('could not import the phone\'s store - %e', err)
    }).finally(() => { this.firstRunning = false })
  }

  /**
   * Import a phone's store: `via` (a member phone's id), or this device's own (`self`, or no
   * `via` on a phone), or, with neither, that of the one phone of the account that is reachable.
   */
  async import (options: { via?: string, since?: number, onProgress?: (p: ImportReport) => void }): Promise<ImportReport> {
    if (options.via != null && options.via !== 'self') return await this.importVia(options.via, options)
    if (this.init.backend != null || options.via === 'self') return await this.importHere(options)
    const phones = this.init.reachablePhones()
    const phone = phones[0]
    if (phone == null) throw new InvalidSmsError('no phone of this account is reachable now; try again when one is online')
    if (phones.length > 1) throw new InvalidSmsError(`${phones.length} phones are reachable; choose one with --via`)
    return await this.importVia(phone, options)
  }

  /** Import this phone's store (texts newer than `since`, or all), then its contacts. */
  async importHere (options: { since?: number, onProgress?: (p: ImportReport) => void }): Promise<ImportReport> {
    const { backend, history } = this.init
    if (backend == null || history == null) throw new InvalidSmsError('this device has no SMS backend that can read a phone\'s store; run it on the phone, or name the phone with --via')
    const report: ImportReport = await history.run({ since: options.since, onProgress: (p) => { if (!p.done) options.onProgress?.(p) } })
    const contacts = backend.history?.contacts
    if (contacts != null) {
      const list = await contacts.call(backend.history)
      const drafts = list.map(c => ({ id: contactId(`${this.init.store.self}\nphone`, c.name), name: c.name, numbers: c.numbers }))
      report.contacts = await this.writeContacts(drafts, this.init.receivers())
    }
    options.onProgress?.(report)
    return report
  }

  /** Ask `phone` to import its store; its progress as it comes. */
  async importVia (phone: string, options: { since?: number, onProgress?: (p: ImportReport) => void }): Promise<ImportReport> {
    const channel = await this.init.tunnels.open(phone, HISTORY_CHANNEL, Priority.INTERACTIVE)
    try {
      await writeJsonFrames(channel, [options.since == null ? {} : { since: options.since }])
      for await (const batch of readJsonFrames(channel)) {
        for (const frame of batch) {
          const f = frame as Partial<ImportReport> & { error?: unknown }
          if (typeof f.error === 'string') throw new HistoryUnavailableError(`the phone says: ${f.error.slice(0, 300)}`)
          if (!Number.isSafeInteger(f.scanned) || !Number.isSafeInteger(f.added) || typeof f.done !== 'boolean') throw new SyncProtocolError('the phone sent a malformed progress line')
          const report: ImportReport = { scanned: f.scanned as number, added: f.added as number, done: f.done, ...(Number.isSafeInteger(f.contacts) ? { contacts: f.contacts as number } : {}) }
          options.onProgress?.(report)
          if (report.done) return report
        }
      }
      throw new HistoryUnavailableError('the phone closed the channel before the import ended')
    } finally {
      channel.end()
    }
  }

  /** A member asks this phone to import its store. */
  private async serve (channel: Channel): Promise<void> {
    try {
      if (!this.init.mayReceive(channel.device)) {
        await writeJsonFrames(channel, [{ error: 'this phone does not let your device see its texts (sms.receive); grant it on the phone' }])
        return
      }
      let request: { since?: unknown } | undefined
      for await (const batch of readJsonFrames(channel)) {
        request = batch[0] as { since?: unknown }
        break
      }
      const since = request?.since
      if (request == null || typeof request !== 'object' || (since !== undefined && !Number.isSafeInteger(since))) throw new SyncProtocolError('a malformed import request')
      let writing = Promise.resolve()
      const report = await this.importHere({
        ...(since === undefined ? {} : { since: since as number }),
        // progress is best effort: a slow asker does not hold up the import
        onProgress: (p) => { if (!p.done) writing = writing.then(async () => { await writeJsonFrames(channel, [p]) }).catch(() => {}) }
      })
      await writing
      await writeJsonFrames(channel, [report])
    } catch (err) {
      this.init.log('an import asked by %s failed - %s', channel.device, (err as Error).message)
      await writeJsonFrames(channel, [{ error: (err as Error).message }]).catch(() => {})
    } finally {
      channel.end()
    }
  }

  contacts (): ContactView[] {
    return listContacts(this.init.store.db)
  }

  /** Contacts of a vCard file, for every device of the account; how many were new or changed. */
  async importVCard (text: string): Promise<{ contacts: number, unreadable: number }> {
    const cards = parseVCards(text)
    await loadNumberPlans()
    const drafts = cards.map(c => ({ id: contactId('vcard', c.uid ?? c.name), name: c.name, numbers: c.numbers }))
    const { events, unreadable } = contactEvents(this.init.store.db, drafts, this.init.country(), Date.now())
    await this.append(events, undefined)
    return { contacts: events.length, unreadable }
  }

  private async writeContacts (drafts: ContactDraft[], audience: string[] | undefined): Promise<number> {
    await loadNumberPlans()
    const { events } = contactEvents(this.init.store.db, drafts, this.init.country(), Date.now())
    await this.append(events, audience)
    return events.length
  }

  private async append (events: SmsEvent[], audience: string[] | undefined): Promise<void> {
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500)
      await this.init.store.write(tx => { for (const e of chunk) tx.append(e, audience) })
    }
  }
}
