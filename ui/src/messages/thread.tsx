import { memo } from 'preact/compat'
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import { api, type DeviceEntry, type MessageView } from '../api.ts'
import { useEvents, useReconnected } from '../live.ts'
import { conversationTitle, dayLabel, deviceName, fullTime, shortTime, statusText } from '../format.ts'
import { Icon } from '../icons.tsx'
import { Avatar } from './avatar.tsx'
import { Composer } from './composer.tsx'
import { Files } from './files.tsx'
import { countOf, oldestOf, prependPage, shown, upsertInto, type Chunk, type Chunks } from './chunks.ts'

/** Messages fetched when a conversation opens; older pages load as the user scrolls up. */
export const PAGE_SIZE = 50
/** Messages fetched per older page: a long history is scrolled through in few steps. */
export const OLDER_PAGE_SIZE = 100
/** Within this many pixels of the bottom, new messages keep the view at the bottom. */
const STICK_PX = 80

/** One message; drawn again only when it (or the devices) changed: a long conversation is thousands of them. */
const Bubble = memo(function Bubble ({ m, devices, multi }: { m: MessageView, devices: DeviceEntry[] | undefined, multi: boolean }) {
  const out = m.direction === 'out'
  const history = m.statusHistory.map(s => `${s.status} ${fullTime(s.at)}${s.reason == null ? '' : ` (${s.reason})`}`).join('\n')
  return (
    <li class={`bubble-row ${out ? 'out' : 'in'}`} data-id={m.id} data-status={m.status}>
      <div class={`bubble ${out ? 'out' : 'in'} ${m.status}`}>
        {multi && !out && <span class='sender'>{m.name ?? m.from}</span>}
        <Files id={m.id} files={m.attachments} />
        {m.body !== '' && <p class='body'>{m.body}</p>}
        <span class='meta'>
          <time dateTime={new Date(m.createdAt).toISOString()} title={fullTime(m.createdAt)}>{shortTime(m.createdAt)}</time>
          {out && <span class='by'> · from {deviceName(devices, m.author)}</span>}
          {!out && m.route === 'network' && <span class='by' title='device to device, not by SMS'> · over companion-link</span>}
        </span>
      </div>
      {out && (
        <span class={`status ${m.status}`} data-testid='status' title={history} role='status'>
          {m.status === 'failed' || m.status === 'unauthorized' ? <Icon name='alert' size={14} /> : m.status === 'delivered' ? <Icon name='check' size={14} /> : null}
          {statusText(m, devices)}
        </span>
      )}
    </li>
  )
})

/** The rows of one chunk, a day's label above its first message of each day (`dayBefore`: the day the chunk above ends in). */
const ChunkRows = memo(function ChunkRows ({ chunk, dayBefore, devices, multi }: { chunk: Chunk, dayBefore: string, devices: DeviceEntry[] | undefined, multi: boolean }) {
  let lastDay = dayBefore
  return (
    <ol class='bubbles chunk'>
      {chunk.messages.flatMap(m => {
        const day = dayLabel(m.createdAt)
        const separator = day !== lastDay
        lastDay = day
        const bubble = <Bubble key={m.id} m={m} devices={devices} multi={multi} />
        return separator ? [<li class='day' key={`day-${day}`} aria-hidden='true'><span>{day}</span></li>, bubble] : [bubble]
      })}
    </ol>
  )
})

/** Whether every number of the conversation is verified as another companion account's. */
function useVerified (numbers: string[]): boolean {
  const [bound, setBound] = useState<string[]>([])
  useEffect(() => { api.numbers().then(list => { setBound(list.map(n => n.number)) }, () => {}) }, [numbers.join(',')])
  return numbers.length > 0 && numbers.every(n => bound.includes(n))
}

/** One conversation: bubbles with live statuses, older pages on scroll, read on every device once seen. */
export function Thread ({ conversation, devices, unread, name }: { conversation: string, devices: DeviceEntry[] | undefined, unread: number, name: string | null }) {
  const [chunks, setChunks] = useState<Chunks | undefined>(undefined)
  const [more, setMore] = useState(true)
  const [error, setError] = useState<string | undefined>(undefined)
  const scroller = useRef<HTMLDivElement>(null)
  const stick = useRef(true)
  const loadingOlder = useRef(false)
  const anchor = useRef<{ height: number, top: number } | undefined>(undefined)
  const numbers = conversation.split(',')

  /**
   * Changes that arrive while a page of the newest messages is on its way: the page may have
   * been read before them (a status follows a send within milliseconds), so they are applied
   * on top of it once it is in. Undefined while nothing is being loaded.
   */
  const early = useRef<MessageView[] | undefined>(undefined)
  /** Load the newest page: when the conversation opens, and after the event stream was broken. */
  const refresh = (): void => {
    const first = chunks == null
    early.current ??= []
    api.messages({ with: conversation, limit: PAGE_SIZE }).then(
      (page) => {
        const late = early.current ?? []
        early.current = undefined
        // a first load decides whether older pages remain; a refresh keeps what was scrolled to
        const moreNow = first ? page.length === PAGE_SIZE : more
        if (first) setMore(moreNow)
        setChunks(list => late.reduce((l, m) => shown(l, m, moreNow) ? upsertInto(l, m) : l, page.reduce(upsertInto, list ?? [])))
      },
      (err: Error) => { early.current = undefined; setError(err.message) }
    )
  }
  useEffect(refresh, [conversation])
  useReconnected(refresh)

  // seen here means read everywhere: whenever this conversation has unread messages while open and visible
  useEffect(() => {
    if (unread === 0 || document.visibilityState !== 'visible') return
    api.read(conversation).catch((err: Error) => { setError(err.message) })
  }, [conversation, unread])
  useEffect(() => {
    const onVisible = (): void => { if (document.visibilityState === 'visible' && unread > 0) void api.read(conversation).catch(() => {}) }
    document.addEventListener('visibilitychange', onVisible)
    return () => { document.removeEventListener('visibilitychange', onVisible) }
  }, [conversation, unread])

  useEvents(['sms'], (_type, data) => {
    const message = (data as { message: MessageView }).message
    if (message.conversation !== conversation) return
    if (early.current != null) early.current.push(message)
    else setChunks(list => list == null || !shown(list, message, more) ? list : upsertInto(list, message))
  })

  const loadOlder = (): void => {
    const oldest = chunks == null ? undefined : oldestOf(chunks)
    const el = scroller.current
    if (oldest == null || el == null || !more || loadingOlder.current) return
    loadingOlder.current = true
    anchor.current = { height: el.scrollHeight, top: el.scrollTop }
    // `before` is exclusive and in ms: ask from the oldest one's millisecond on (others may share it) and drop what is shown
    api.messages({ with: conversation, limit: OLDER_PAGE_SIZE, before: oldest.createdAt + 1 }).then(
      (page) => {
        setMore(page.length === OLDER_PAGE_SIZE)
        setChunks(list => prependPage(list ?? [], page))
      },
      (err: Error) => { setError(err.message) }
    ).finally(() => { loadingOlder.current = false })
  }

  // keep the reader's place: at the bottom for new messages, still when older ones arrive above
  useLayoutEffect(() => {
    const el = scroller.current
    if (el == null) return
    if (anchor.current != null) {
      el.scrollTop = anchor.current.top + (el.scrollHeight - anchor.current.height)
      anchor.current = undefined
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight
    }
  }, [chunks])

  const onScroll = (): void => {
    const el = scroller.current
    if (el == null) return
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX
    if (el.scrollTop < STICK_PX) loadOlder()
  }

  // the devices' list comes again with every change of any device: the rows redraw only when a name they show changed
  const namesKey = devices?.map(d => `${d.id} ${d.name} ${d.relation}`).join('\n')
  const named = useMemo(() => devices, [namesKey])
  const title = conversationTitle(numbers, name)
  const verified = useVerified(numbers)
  const count = chunks == null ? 0 : countOf(chunks)
  return (
    <div class='thread'>
      <header class='pane-head thread-head'>
        <a class='button ghost icon-only back' href='#/messages' aria-label='Back to conversations'><Icon name='back' /></a>
        <Avatar label={name ?? numbers[0] ?? '#'} />
        <h2 title={name == null ? undefined : conversationTitle(numbers)}>{title}</h2>
        {verified && <span class='badge verified' title='this number is a verified companion-link account: texts go device to device, free and end-to-end encrypted'>companion-link</span>}
      </header>
      <div class='scroller' ref={scroller} onScroll={onScroll} tabIndex={0} aria-label={`Messages with ${title}`}>
        {more && count > 0 && <button class='button ghost load-older' onClick={loadOlder}>Load older messages</button>}
        {chunks == null && error == null && <p class='muted pad'>Loading…</p>}
        {error != null && <p class='error' role='alert'>{error}</p>}
        <div role='log' aria-live='polite' aria-relevant='additions text' class='chunks'>
          {/* chunk by chunk: a page added above, or a status changing, redraws one chunk */}
          {chunks?.map((chunk, i) => {
            const above = chunks[i - 1]?.messages.at(-1)
            return <ChunkRows key={chunk.key} chunk={chunk} dayBefore={above == null ? '' : dayLabel(above.createdAt)} devices={named} multi={numbers.length > 1} />
          })}
        </div>
      </div>
      <Composer to={numbers} devices={devices} verified={verified && numbers.length === 1} onSent={(m) => { stick.current = true; setChunks(list => upsertInto(list ?? [], m)) }} />
    </div>
  )
}
