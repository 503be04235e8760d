import { useEffect, useState } from 'preact/hooks'
import { api, type ConversationView, type DeviceEntry, type MessageView } from '../api.ts'
import type { Resource } from '../live.ts'
import { conversationTitle, shortTime } from '../format.ts'
import { conversationHref } from '../route.ts'
import { Icon } from '../icons.tsx'
import { Avatar } from './avatar.tsx'

const SEARCH_DELAY_MS = 200

function ConversationItem ({ c, selected }: { c: ConversationView, selected: boolean }) {
  const title = conversationTitle(c.numbers, c.name)
  const preview = (c.last.direction === 'out' ? 'You: ' : '') + c.last.body
  return (
    <li>
      <a
        class={c.unread > 0 ? 'conversation unread' : 'conversation'} href={conversationHref(c.conversation)}
        aria-current={selected ? 'true' : undefined}
        aria-label={`${title}${c.unread > 0 ? `, ${c.unread} unread` : ''}, last message ${shortTime(c.last.createdAt)}: ${preview}`}
      >
        <Avatar label={c.name ?? c.numbers[0] ?? '#'} />
        <span class='conversation-text'>
          <span class='conversation-top'>
            <span class='conversation-title' title={c.name == null ? undefined : conversationTitle(c.numbers)}>{title}</span>
            <time dateTime={new Date(c.last.createdAt).toISOString()}>{shortTime(c.last.createdAt)}</time>
          </span>
          <span class='conversation-bottom'>
            <span class='preview'>{c.last.status === 'failed' ? '⚠ ' : ''}{preview}</span>
            {c.unread > 0 && <span class='badge' data-testid='unread'>{c.unread}</span>}
          </span>
        </span>
      </a>
    </li>
  )
}

function SearchResults ({ query }: { query: string }) {
  const [results, setResults] = useState<MessageView[] | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  useEffect(() => {
    let live = true
    const timer = setTimeout(() => {
      api.messages({ search: query, limit: 50 }).then(
        (found) => { if (live) { setResults(found.reverse()); setError(undefined) } },
        (err: Error) => { if (live) setError(err.message) }
      )
    }, SEARCH_DELAY_MS)
    return () => { live = false; clearTimeout(timer) }
  }, [query])
  if (error != null) return <p class='error' role='alert'>{error}</p>
  if (results == null) return <p class='muted pad'>Searching…</p>
  if (results.length === 0) return <p class='muted pad'>No message contains “{query}”.</p>
  return (
    <ul class='conversations' aria-label={`Messages containing ${query}`}>
      {results.map(m => (
        <li key={m.id}>
          <a class='conversation' href={conversationHref(m.conversation)}>
            <Avatar label={m.name ?? m.conversation.split(',')[0] ?? '#'} />
            <span class='conversation-text'>
              <span class='conversation-top'>
                <span class='conversation-title'>{conversationTitle(m.conversation.split(','), m.name)}</span>
                <time>{shortTime(m.createdAt)}</time>
              </span>
              <span class='preview'>{m.direction === 'out' ? 'You: ' : ''}{m.body}</span>
            </span>
          </a>
        </li>
      ))}
    </ul>
  )
}

/** Conversations, newest first, with unread counts; or, while searching, the messages that match. */
export function ConversationList ({ conversations, selected }: { conversations: Resource<ConversationView[]>, selected?: string, devices?: DeviceEntry[] }) {
  const [query, setQuery] = useState('')
  const list = conversations.data
  return (
    <section class='list-pane' aria-label='Conversations'>
      <header class='pane-head'>
        <h1>Messages</h1>
        <a class='button primary icon-only' href='#/messages/new' title='New message' aria-label='New message'><Icon name='plus' /></a>
      </header>
      <div class='search'>
        <Icon name='search' />
        <input
          type='search' placeholder='Search messages' aria-label='Search messages' value={query}
          onInput={(e) => { setQuery((e.target as HTMLInputElement).value) }}
        />
      </div>
      {query.trim() !== '' && <SearchResults query={query.trim()} />}
      {query.trim() === '' && conversations.error != null && <p class='error' role='alert'>{conversations.error.message}</p>}
      {query.trim() === '' && list == null && conversations.error == null && <p class='muted pad'>Loading…</p>}
      {query.trim() === '' && list != null && list.length === 0 && <p class='muted pad'>No messages yet. Texts you send or receive on any of your devices show up here.</p>}
      {query.trim() === '' && list != null && list.length > 0 && (
        <ul class='conversations'>
          {list.map(c => <ConversationItem key={c.conversation} c={c} selected={c.conversation === selected} />)}
        </ul>
      )}
    </section>
  )
}
