import { useEffect, useState } from 'preact/hooks'
import { api, whenSignedOut, type DeviceEntry } from './api.ts'
import { useConnected, useResource } from './live.ts'
import { useRoute } from './route.ts'
import { Icon, type IconName } from './icons.tsx'
import { Messages } from './messages/messages.tsx'
import { Devices } from './devices/devices.tsx'
import { PairRequests } from './devices/pair-requests.tsx'
import { Links } from './links.tsx'

function NavItem ({ href, icon, label, current, badge }: { href: string, icon: IconName, label: string, current: boolean, badge?: number }) {
  return (
    <a class='nav-item' href={href} aria-current={current ? 'page' : undefined}>
      <Icon name={icon} />
      <span class='nav-label'>{label}</span>
      {badge != null && badge > 0 && <span class='badge' aria-label={`${badge} unread`}>{badge}</span>}
    </a>
  )
}

function SignedOut () {
  return (
    <main class='signed-out'>
      <div class='card'>
        <h1>Signed out</h1>
        <p>This page lost its session (it was signed out, or the daemon forgot it).</p>
        <p>Run <code>companion ui</code> on this machine for a new link.</p>
      </div>
    </main>
  )
}

/** The page: a rail of sections, the section, and pairing requests wherever the user is. */
export function App () {
  const [signedOut, setSignedOut] = useState(false)
  useEffect(() => { whenSignedOut(() => { setSignedOut(true) }) }, [])
  const route = useRoute()
  const connected = useConnected()
  const status = useResource(api.status, ['device'], [], 30_000)
  const devices = useResource<DeviceEntry[]>(api.devices, ['device', 'link'], [], 10_000)
  const conversations = useResource(api.conversations, ['sms', 'contacts'])
  const unread = conversations.data?.reduce((n, c) => n + c.unread, 0) ?? 0

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) companion` : 'companion'
  }, [unread])

  if (signedOut) return <SignedOut />
  const self = status.data
  return (
    <div class='shell'>
      <nav class='rail' aria-label='Sections'>
        <div class='brand'><span class='logo' aria-hidden='true'>c</span><span class='nav-label'>companion</span></div>
        <NavItem href='#/messages' icon='messages' label='Messages' current={route.section === 'messages'} badge={unread} />
        <NavItem href='#/devices' icon='devices' label='Devices' current={route.section === 'devices'} />
        <NavItem href='#/links' icon='links' label='Links' current={route.section === 'links'} />
        <div class='rail-foot nav-label'>
          <span class={connected ? 'dot online' : 'dot offline'} aria-hidden='true' />
          <span>{self == null ? '…' : self.name}{connected ? '' : ' · reconnecting'}</span>
        </div>
      </nav>
      <main class='content' id='main'>
        <PairRequests />
        {route.section === 'messages' && <Messages route={route} devices={devices.data} conversations={conversations} />}
        {route.section === 'devices' && <Devices devices={devices} status={status.data} />}
        {route.section === 'links' && <Links devices={devices.data} />}
      </main>
    </div>
  )
}
