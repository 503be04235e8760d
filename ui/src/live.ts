/**
 * The daemon's event stream (SSE) and hooks built on it: data that refreshes itself when an
 * event says it changed, and again after the stream reconnects (events may have been missed).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { EVENTS_URL, type DaemonEventMap } from './api.ts'

type EventType = keyof DaemonEventMap
type Listener = (type: EventType, data: DaemonEventMap[EventType]) => void

const EVENT_TYPES: EventType[] = ['device', 'link', 'pair', 'sms', 'contacts', 'share']
const listeners = new Set<Listener>()
const reconnectListeners = new Set<() => void>()
let source: EventSource | undefined
let connected = false
const connectionListeners = new Set<(up: boolean) => void>()

function setConnected (up: boolean): void {
  if (up === connected) return
  connected = up
  for (const l of connectionListeners) l(up)
  if (up) for (const l of reconnectListeners) l()
}

function ensureSource (): void {
  if (source != null) return
  source = new EventSource(EVENTS_URL)
  source.onopen = () => { setConnected(true) }
  source.onerror = () => { setConnected(false) }
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (evt) => {
      let data: DaemonEventMap[EventType]
      try {
        data = JSON.parse((evt as MessageEvent<string>).data) as DaemonEventMap[EventType]
      } catch {
        return
      }
      for (const l of listeners) l(type, data)
    })
  }
}

/** Call `listener` for every event of the given types while the component is shown. */
export function useEvents (types: EventType[], listener: Listener): void {
  const latest = useRef(listener)
  latest.current = listener
  const key = types.join(',')
  useEffect(() => {
    ensureSource()
    const l: Listener = (type, data) => { if (key.split(',').includes(type)) latest.current(type, data) }
    listeners.add(l)
    return () => { listeners.delete(l) }
  }, [key])
}

/** Call `listener` each time the event stream comes back after a break (events may have been missed). */
export function useReconnected (listener: () => void): void {
  const latest = useRef(listener)
  latest.current = listener
  useEffect(() => {
    const l = (): void => { latest.current() }
    reconnectListeners.add(l)
    return () => { reconnectListeners.delete(l) }
  }, [])
}

/** Is the event stream up (the page is live)? */
export function useConnected (): boolean {
  const [up, setUp] = useState(connected)
  useEffect(() => {
    ensureSource()
    connectionListeners.add(setUp)
    setUp(connected)
    return () => { connectionListeners.delete(setUp) }
  }, [])
  return up
}

export interface Resource<T> {
  data: T | undefined
  error: Error | undefined
  reload: () => void
}

/**
 * `load()` now, again when one of `types` fires (coalesced: bursts of events cost one load),
 * every `pollMs` if given, and after the stream reconnects.
 */
export function useResource<T> (load: () => Promise<T>, types: EventType[], deps: unknown[] = [], pollMs?: number): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<Error | undefined>(undefined)
  const loadRef = useRef(load)
  loadRef.current = load
  const pending = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const generation = useRef(0)

  const reload = useCallback(() => {
    if (pending.current != null) return
    pending.current = setTimeout(() => {
      pending.current = undefined
      const mine = ++generation.current
      loadRef.current().then(
        (value) => { if (mine === generation.current) { setData(value); setError(undefined) } },
        (err: Error) => { if (mine === generation.current) setError(err) }
      )
    }, 60)
  }, [])

  useEffect(() => {
    setData(undefined)
    reload()
    const timer = pollMs == null ? undefined : setInterval(reload, pollMs)
    return () => {
      if (timer != null) clearInterval(timer)
      generation.current++
    }
  }, deps)
  useEvents(types, reload)
  useReconnected(reload)
  return { data, error, reload }
}
