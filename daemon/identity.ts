import { peerIdFromString } from '@libp2p/peer-id'
import { NotAMemberError, type DeviceNode, type Grants, type PairRequest } from '../node/index.ts'
import type { GrantView, PairRequestView } from './control/types.ts'
import type { DeviceDirectory } from './devices.ts'
import { AmbiguousDeviceError, NoPairRequestError, PairSelfError } from './errors.ts'

/** Pairing, unpairing and grants, as the control API offers them. */
export class IdentityApi {
  private readonly node: DeviceNode
  private readonly directory: DeviceDirectory
  private readonly grantStore: Grants

  constructor (init: { node: DeviceNode, directory: DeviceDirectory, grants: Grants }) {
    this.node = init.node
    this.directory = init.directory
    this.grantStore = init.grants
  }

  /** Joining device: pair with another; `onCode` shows the code; resolves once a member. */
  async join (device: string, options: { timeoutMs?: number, signal: AbortSignal, onCode(code: string): void }): Promise<{ account: string, device: string }> {
    const target = await this.directory.find(device)
    if (target.relation === 'self') throw new PairSelfError('a device cannot pair with itself; run companion pair on the device that joins, naming a device of the account')
    const result = await this.node.libp2p.services.pairing.join(peerIdFromString(target.id), options)
    return { ...result, device: target.id }
  }

  requests (): PairRequestView[] {
    return this.node.libp2p.services.pairing.requests()
  }

  /** The request of `device` (a name, an id or an id prefix of a waiting joiner). */
  private request (device: string): PairRequest {
    const matches = this.requests().filter(r => r.id === device || r.name === device || r.id.startsWith(device))
    if (matches.length === 1 && matches[0] != null) return matches[0]
    if (matches.length > 1) throw new AmbiguousDeviceError(`"${device}" matches ${matches.length} waiting requests; use the device id`)
    throw new NoPairRequestError(`no pairing request from "${device}" is waiting; start companion pair on that device first`)
  }

  async accept (device: string, code: string): Promise<{ device: string }> {
    const request = this.request(device)
    await this.node.libp2p.services.pairing.accept(request.id, code)
    return { device: request.id }
  }

  reject (device: string): { device: string } {
    const request = this.request(device)
    this.node.libp2p.services.pairing.reject(request.id)
    return { device: request.id }
  }

  /**
   * Remove a device from the account for every member: a new account epoch whose key only the
   * remaining members get. Naming this device leaves the account.
   */
  async unpair (device: string): Promise<{ device: string, left: boolean }> {
    const target = await this.directory.find(device)
    if (target.relation === 'self') {
      await this.node.membership.leave(target.id)
      return { device: target.id, left: true }
    }
    if (target.relation !== 'member') throw new NotAMemberError(`${target.name} is not a member of this account`)
    await this.node.membership.remove(target.id)
    return { device: target.id, left: false }
  }

  async setGrant (device: string, capability: string, allowed: boolean): Promise<GrantView[]> {
    const target = await this.directory.find(device)
    await this.grantStore.set(target.id, capability, allowed)
    // the profile tells members what this device refuses them
    void this.node.changed()
    return this.grantStore.list([target.id]).map(e => ({ ...e, name: target.name }))
  }

  /** The master list for every member device, with names. */
  async grants (): Promise<GrantView[]> {
    const members = (await this.directory.list()).filter(d => d.relation === 'member')
    const names = new Map(members.map(d => [d.id, d.name]))
    return this.grantStore.list(members.map(d => d.id)).map(e => ({ ...e, name: names.get(e.device) ?? e.device }))
  }
}

