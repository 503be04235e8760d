import type { MessageView } from '../api.ts'

/**
 * A conversation's loaded messages in chunks (oldest first): each older page is one chunk, so
 * a page added above, or a status changing, redraws one chunk and leaves the thousands of
 * other rows alone.
 */
export interface Chunk { key: number, messages: MessageView[] }
export type Chunks = Chunk[]

let nextKey = 1

export function newChunk (messages: MessageView[]): Chunk {
  return { key: nextKey++, messages }
}

export function oldestOf (chunks: Chunks): MessageView | undefined {
  return chunks.find(c => c.messages.length > 0)?.messages[0]
}

export function countOf (chunks: Chunks): number {
  return chunks.reduce((n, c) => n + c.messages.length, 0)
}

/** Insert or replace by id, keeping the list in time order. */
export function upsert (list: MessageView[], message: MessageView): MessageView[] {
  const rest = list.filter(m => m.id !== message.id)
  const at = rest.findIndex(m => m.createdAt > message.createdAt)
  if (at < 0) return [...rest, message]
  return [...rest.slice(0, at), message, ...rest.slice(at)]
}

/** Whether `message` belongs to what is loaded: not older than the oldest shown while older pages remain. */
export function shown (chunks: Chunks, message: MessageView, more: boolean): boolean {
  const oldest = oldestOf(chunks)
  return !more || oldest == null || message.createdAt >= oldest.createdAt || chunks.some(c => c.messages.some(m => m.id === message.id))
}

/** `message` in the chunk that holds it, else in the one its time falls in (the newest, for a new one); the other chunks stay the same objects. */
export function upsertInto (chunks: Chunks, message: MessageView): Chunks {
  if (chunks.length === 0) return [newChunk([message])]
  let at = chunks.findIndex(c => c.messages.some(m => m.id === message.id))
  if (at < 0) {
    at = 0
    chunks.forEach((c, i) => { if ((c.messages[0]?.createdAt ?? -Infinity) <= message.createdAt) at = i })
  }
  const chunk = chunks[at] as Chunk
  const next = [...chunks]
  next[at] = { key: chunk.key, messages: upsert(chunk.messages, message) }
  return next
}

/** An older page as a chunk of its own, above the others, without what is shown already. */
export function prependPage (chunks: Chunks, page: MessageView[]): Chunks {
  const have = new Set(chunks.flatMap(c => c.messages.map(m => m.id)))
  const fresh = page.filter(m => !have.has(m.id))
  return fresh.length === 0 ? chunks : [newChunk(fresh), ...chunks]
}
