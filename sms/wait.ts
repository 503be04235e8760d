import { FINAL_STATUSES, STATUS_RANK, type SmsStatus } from './constants.ts'
import type { ViewChange } from './materialize.ts'
import type { SmsStore } from './store.ts'
import type { MessageView } from './view-types.ts'

/** Resolves when message `id` reaches `status` (or a later one, or a final one); rejects when `signal` aborts. */
export async function waitForStatus (store: SmsStore, get: (id: string) => MessageView, id: string, status: SmsStatus, signal: AbortSignal): Promise<MessageView> {
  const reached = (m: MessageView): boolean => STATUS_RANK[m.status] >= STATUS_RANK[status] || FINAL_STATUSES.has(m.status)
  const now = get(id)
  if (reached(now)) return now
  return await new Promise<MessageView>((resolve, reject) => {
    const listener = (changes: ViewChange[]): void => {
      if (!changes.some(c => c.id === id)) return
      const m = get(id)
      if (reached(m)) { done(); resolve(m) }
    }
    const done = (): void => { store.off('changes', listener); signal.removeEventListener('abort', onAbort) }
    const onAbort = (): void => { done(); reject(signal.reason as Error) }
    store.on('changes', listener)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
