/** Where the page is, in its URL fragment: #/messages[/<conversation>|/new], #/devices, #/links. */
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { section: 'messages', conversation?: string, compose?: boolean }
  | { section: 'devices' }
  | { section: 'links' }

export function parseRoute (hash: string): Route {
  const [section, ...rest] = hash.replace(/^#\/?/, '').split('/')
  if (section === 'devices') return { section: 'devices' }
  if (section === 'links') return { section: 'links' }
  const tail = rest.join('/')
  if (tail === 'new') return { section: 'messages', compose: true }
  if (tail !== '') {
    try {
      return { section: 'messages', conversation: decodeURIComponent(tail) }
    } catch {}
  }
  return { section: 'messages' }
}

export function conversationHref (conversation: string): string {
  return `#/messages/${encodeURIComponent(conversation)}`
}

export function navigate (href: string): void {
  window.location.hash = href
}

export function useRoute (): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash))
  useEffect(() => {
    const onChange = (): void => { setRoute(parseRoute(window.location.hash)) }
    window.addEventListener('hashchange', onChange)
    return () => { window.removeEventListener('hashchange', onChange) }
  }, [])
  return route
}
