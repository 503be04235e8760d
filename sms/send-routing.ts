import type { NewMessage, SmsClient } from './client.ts'
import type { SmsStatus } from './constants.ts'
import { InvalidSmsError } from './errors.ts'
import { normalizeNumber } from './codec/numbers.ts'
import type { NetworkTexts } from './network-texts.ts'
import type { Attachments } from './attachments.ts'
import type { Attachment } from './view-types.ts'
import type { SendRequest } from './service.ts'

/** What a device outside the account is told when asked to carry a text: nothing leaves this device. */
const NOT_A_MEMBER_REFUSAL = 'this phone carries messages only for devices of its own account, and yours is not one: nothing was sent to it (pair first: companion pair)'

export interface SendRoutingInit {
  client: SmsClient
  network: Pick<NetworkTexts, 'binding' | 'kick'>
  attachments: Pick<Attachments, 'prepare'>
  /** This device has an SMS backend (it may be its own proxy). */
  hasBackend(): boolean
  /** Texts went by SMS to numbers not verified: someone may claim them (verify in the background). */
  unverified?(numbers: string[]): void
}

/**
 * Which way a new text goes (seed 002: least cost first): device to device to a verified
 * number (files only that way), refused at once for a device outside the account, else to
 * a phone, which routes each recipient of a group itself.
 */
export class SendRouting {
  private readonly init: SendRoutingInit

  constructor (init: SendRoutingInit) {
    this.init = init
  }

  async submit (req: SendRequest): Promise<NewMessage & { status: SmsStatus, reason?: string }> {
    const via = req.via
    if (req.attachments != null && req.attachments.length > 0) return await this.sendFiles(req, await this.init.attachments.prepare(req.attachments))
    if (via?.relation === 'nearby') {
      // outside the account: the text and its recipients are not handed to that device at all
      const refused = await this.init.client.recordRefusal(req.to, req.body, 'unauthorized', NOT_A_MEMBER_REFUSAL)
      return { ...refused, status: 'unauthorized', reason: NOT_A_MEMBER_REFUSAL }
    }
    if (via != null) {
      const proxy = via.relation === 'self' ? this.init.hasBackend() : via.capabilities.some(c => c.name === 'sms.send')
      if (!proxy) throw new InvalidSmsError(`${via.id} has no SMS backend; choose a phone (see companion devices)`)
    }
    if (via == null && req.route !== 'sms') {
      const to = req.to.map(normalizeNumber)
      // a verified number of another companion account: device to device, SMS only if that fails before it left
      if (this.init.network.binding(to) != null) {
        const sent = await this.init.client.sendOverNetwork(req.to, req.body, req.route === 'network' ? 'network-only' : 'auto')
        this.init.network.kick()
        return { ...sent, status: 'pending' }
      }
      if (req.route === 'network') throw new InvalidSmsError(`${to.join(', ')} ${to.length === 1 ? 'is not a verified companion-link number' : 'are several numbers'}: --network-only needs one verified number (companion numbers verify)`)
      // numbers someone may claim get verified in the background (not those verified already: a group's)
      this.init.unverified?.(to.filter(n => this.init.network.binding([n]) == null))
    }
    // a group goes through a phone, which carries each verified recipient's copy device to device (unless --sms-only)
    const sent = await this.init.client.send(req.to, req.body, via?.id, req.route === 'sms')
    return { ...sent, status: 'pending' }
  }

  /** A text with files: device to device only, to one verified number (no backend here can send MMS). */
  private async sendFiles (req: SendRequest, files: Attachment[]): Promise<NewMessage & { status: SmsStatus }> {
    const to = req.to.map(normalizeNumber)
    if (req.via != null || req.route === 'sms') throw new InvalidSmsError('a text with attachments goes only device to device: no backend here can send MMS (leave out --via and --sms-only)')
    if (this.init.network.binding(to) == null) throw new InvalidSmsError(`${to.join(', ')} ${to.length === 1 ? 'is not a verified companion-link number' : 'are several numbers'}: a text with attachments goes only device to device, to one verified number (no backend here can send MMS); send it without --attach, or verify the number first (companion numbers verify)`)
    const sent = await this.init.client.sendOverNetwork(req.to, req.body, 'network-only', files)
    this.init.network.kick()
    return { ...sent, status: 'pending' }
  }
}
