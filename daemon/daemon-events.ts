import { EventEmitter } from 'node:events'
import type { DaemonEventMap, DaemonEventType } from './control/types.ts'

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
