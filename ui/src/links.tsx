import { api, type DeviceEntry, type LinkRow } from './api.ts'
import { useResource } from './live.ts'
import { KindIcon } from './icons.tsx'

/** A change of active link comes as an event; round-trip times change by the probe: refresh them this often. */
export const LINKS_REFRESH_MS = 2_000

function LinkTable ({ links }: { links: LinkRow[] }) {
  return (
    <table class='links'>
      <thead>
        <tr><th scope='col'>Kind</th><th scope='col'>Local</th><th scope='col'>Remote</th><th scope='col'>Rank</th><th scope='col'>RTT</th><th scope='col'>State</th></tr>
      </thead>
      <tbody>
        {links.map(l => (
          <tr key={l.id} class={l.active ? 'active' : undefined} data-link={l.id}>
            <td>{l.kind}</td>
            <td class='mono'>{l.local ?? '—'}</td>
            <td class='mono'>{l.remote}</td>
            <td>{l.rank}</td>
            <td>{l.rttMs == null ? '—' : `${l.rttMs} ms`}</td>
            <td><span class={`pill ${l.state}`}>{l.active ? 'active' : l.state}</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Every link to every member device, the active one marked, updating live. */
export function Links ({ devices }: { devices: DeviceEntry[] | undefined }) {
  const links = useResource(api.links, ['device', 'link'], [], LINKS_REFRESH_MS)
  const byDevice = new Map<string, LinkRow[]>()
  for (const l of links.data ?? []) byDevice.set(l.device, [...(byDevice.get(l.device) ?? []), l])
  const members = (devices ?? []).filter(d => d.relation === 'member')
  return (
    <div class='page'>
      <header class='pane-head'><h1>Links</h1></header>
      {links.error != null && <p class='error' role='alert'>{links.error.message}</p>}
      {members.length === 0 && <p class='muted'>Links appear once another device of yours is paired.</p>}
      {members.map(d => {
        const rows = byDevice.get(d.id) ?? []
        return (
          // focusable: a long (relayed) address makes the card scroll sideways, and keyboard users must reach it
          <section key={d.id} class='card link-card' aria-label={`Links to ${d.name}`} tabIndex={0}>
            <h2><KindIcon kind={d.kind} /> {d.name} <span class='muted small'>{rows.length === 0 ? 'no link' : `${rows.length} link${rows.length === 1 ? '' : 's'}`}</span></h2>
            {rows.length > 0 ? <LinkTable links={rows} /> : <p class='muted small'>{d.online ? 'connected, links being measured' : 'offline'}</p>}
          </section>
        )
      })}
    </div>
  )
}
