import { useState } from 'preact/hooks'
import { api, type DeviceEntry, type GrantView, type ShareView, type Status } from '../api.ts'
import { useResource, type Resource } from '../live.ts'
import { displayNumber } from '../format.ts'
import { Icon, KindIcon } from '../icons.tsx'
import { PairButton } from './pair-button.tsx'
import { Received, ShareDrop } from './shares.tsx'

/** What each capability means, for people. */
const CAPABILITY_WORDS: Record<string, string> = {
  'sms.send': 'Send SMS',
  'sms.receive': 'Receive SMS',
  tunnel: 'Tunnel',
  channels: 'Channels',
  share: 'Send files here'
}

function SimFacts ({ sim }: { sim: NonNullable<DeviceEntry['sim']> }) {
  return (
    <p class='small muted'>
      {sim.number != null && <span>{displayNumber(sim.number)} · </span>}
      {sim.carrier ?? 'SIM'}{sim.roaming === true ? ' (roaming)' : ''}
      {sim.signal != null && <span class={`signal s${sim.signal}`} role='img' aria-label={`signal ${sim.signal} of 4`} title={`signal ${sim.signal} of 4`}><Icon name='signal' size={14} /></span>}
    </p>
  )
}

function Grants ({ device, grants, onChange }: { device: DeviceEntry, grants: GrantView[], onChange: () => void }) {
  const [error, setError] = useState<string | undefined>(undefined)
  const mine = grants.filter(g => g.device === device.id)
  if (mine.length === 0) return null
  return (
    <fieldset class='grants'>
      <legend>What {device.name} may use on this device</legend>
      {mine.map(g => (
        <label key={g.capability} class='toggle'>
          <input
            type='checkbox' checked={g.allowed}
            onChange={(e) => {
              api.setGrant(device.id, g.capability, (e.target as HTMLInputElement).checked).then(onChange, (err: Error) => { setError(err.message); onChange() })
            }}
          />
          <span>{CAPABILITY_WORDS[g.capability] ?? g.capability}</span>
        </label>
      ))}
      {error != null && <p class='error' role='alert'>{error}</p>}
    </fieldset>
  )
}

function DeviceCard ({ device, grants, onChange, transfers }: { device: DeviceEntry, grants?: GrantView[], onChange: () => void, transfers?: ShareView[] }) {
  const [confirming, setConfirming] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  const state = device.relation === 'self' ? 'this device' : device.online ? 'online' : 'offline'
  return (
    <li class='device card' data-device={device.name} aria-label={`${device.name}, ${device.kind}, ${state}`}>
      <div class='device-head'>
        <span class='device-icon'><KindIcon kind={device.kind} size={28} /></span>
        <div class='device-title'>
          <h3>{device.name}</h3>
          <p class='small muted'>
            <span class={`dot ${device.relation === 'self' || device.online ? 'online' : 'offline'}`} aria-hidden='true' /> {state}
            {' · '}{device.kind}
            {device.link != null && ` · ${device.link.kind}${device.link.rttMs == null ? '' : ` ${device.link.rttMs} ms`}`}
          </p>
        </div>
      </div>
      {device.sim != null && <SimFacts sim={device.sim} />}
      <ul class='chips' aria-label='Capabilities'>
        {device.capabilities.map(c => <li key={c} class='chip'>{CAPABILITY_WORDS[c] ?? c}</li>)}
      </ul>
      {device.relation === 'member' && <ShareDrop device={device} transfers={transfers ?? []} />}
      {grants != null && <Grants device={device} grants={grants} onChange={onChange} />}
      {device.relation === 'nearby' && <PairButton device={device} />}
      {device.relation === 'member' && !confirming && <button class='button ghost danger' onClick={() => { setConfirming(true) }}>Remove from my devices…</button>}
      {confirming && (
        <div class='confirm' role='alertdialog' aria-label={`Remove ${device.name}`}>
          <p>Remove {device.name}? It loses access to every device of yours, and its messages stop syncing.</p>
          <button class='button danger' onClick={() => { api.unpair(device.id).then(onChange, (err: Error) => { setError(err.message) }); setConfirming(false) }}>Remove</button>
          <button class='button ghost' onClick={() => { setConfirming(false) }}>Keep</button>
        </div>
      )}
      {error != null && <p class='error' role='alert'>{error}</p>}
    </li>
  )
}

/** This device, the account's members with their grants, and devices nearby to pair with. */
/** Numbers verified to be other companion-link users': texts to them go device to device. */
function VerifiedNumbers () {
  const numbers = useResource(api.numbers, ['contacts', 'sms'])
  const contacts = useResource(api.contacts, ['contacts'])
  const list = numbers.data ?? []
  const nameOf = (number: string): string | undefined => contacts.data?.find(c => c.numbers.includes(number))?.name
  return (
    <section aria-labelledby='h-numbers'>
      <h2 id='h-numbers'>Numbers on companion-link</h2>
      {list.length === 0 && <p class='muted'>No verified number yet. Text someone who runs companion-link too: their number is checked with one SMS, and later texts to them go device to device.</p>}
      {list.length > 0 && (
        <ul class='numbers' aria-label='Verified numbers'>
          {list.map(n => (
            <li key={n.number}>
              <strong>{nameOf(n.number) ?? displayNumber(n.number)}</strong>{nameOf(n.number) == null ? '' : ` · ${displayNumber(n.number)}`}
              <span class='muted small'> · verified {new Date(n.verifiedAt).toLocaleDateString()}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export function Devices ({ devices, status }: { devices: Resource<DeviceEntry[]>, status: Status | undefined }) {
  const grants = useResource(api.grants, ['device'])
  const shares = useResource(api.shares, ['share'])
  const list = devices.data ?? []
  const reload = (): void => { devices.reload(); grants.reload() }
  const self = list.filter(d => d.relation === 'self')
  const members = list.filter(d => d.relation === 'member')
  const nearby = list.filter(d => d.relation === 'nearby')
  return (
    <div class='page'>
      <header class='pane-head'><h1>Devices</h1></header>
      {devices.error != null && <p class='error' role='alert'>{devices.error.message}</p>}
      {status != null && (
        <p class='lead'>
          SMS on this device: {status.sms.backend === 'none' ? 'no phone line' : `${status.sms.backend} (${status.sms.ready ? 'ready' : 'not ready'})${status.sms.number == null ? '' : ` as ${displayNumber(status.sms.number)}`}`}
        </p>
      )}
      <section aria-labelledby='h-mine'>
        <h2 id='h-mine'>Your devices</h2>
        <ul class='device-grid'>
          {[...self, ...members].map(d => <DeviceCard key={d.id} device={d} grants={d.relation === 'member' ? grants.data : undefined} transfers={shares.data} onChange={reload} />)}
        </ul>
        {members.length === 0 && <p class='muted'>No other device yet. Start companion on another device on this network and pair it from there, or pair this one with a device below.</p>}
      </section>
      <section aria-labelledby='h-nearby'>
        <h2 id='h-nearby'>Nearby</h2>
        {nearby.length === 0 && <p class='muted'>No other companion device seen on this network.</p>}
        <ul class='device-grid'>
          {nearby.map(d => <DeviceCard key={d.id} device={d} onChange={reload} />)}
        </ul>
      </section>
      <Received transfers={shares.data ?? []} names={(id) => list.find(d => d.id === id)?.name ?? id.slice(-8)} />
      <VerifiedNumbers />
    </div>
  )
}
