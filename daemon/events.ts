import { EventEmitter } from 'node:events'
import type { MessageView } from './sms/views.ts'

/** Events the daemon publishes on its control API's event stream. */
export interface DaemonEventMap {
  /** A device came online, went offline, or showed a new profile. */
  device: { id: string, online: boolean, name?: string, kind?: string, relation?: string }
  /** A pairing request arrived or ended (member side). */
  pair: { type: 'request' | 'ended', id: string, name?: string, kind?: string, expiresAt?: number, paired?: boolean, reason?: string }
  /** A message appeared, changed status, or was read (on any device of the account). */
  sms: { type: 'message' | 'status' | 'read', message: MessageView }
}

export type DaemonEventType = keyof DaemonEventMap

/** A small typed bus between the daemon's parts and event-stream subscribers. */
export class DaemonEvents {
  private readonly emitter = new EventEmitter()

  constructor () {
    this.emitter.setMaxListeners(0)
  }

  emit<T extends DaemonEventType> (type: T, data: DaemonEventMap[T]): void {
    this.emitter.emit('event', type, data)
  }

  /** Is anyone listening (so events are worth building)? */
  get watched (): boolean {
    return this.emitter.listenerCount('event') > 0
  }

  /** Subscribe to every event; returns the unsubscribe function. */
  subscribe (listener: (type: DaemonEventType, data: DaemonEventMap[DaemonEventType]) => void): () => void {
    this.emitter.on('event', listener)
    return () => { this.emitter.off('event', listener) }
  }
}
