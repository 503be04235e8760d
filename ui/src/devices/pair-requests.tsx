import { useState } from 'preact/hooks'
import { api, type PairRequestView } from '../api.ts'
import { useResource } from '../live.ts'
import { KindIcon } from '../icons.tsx'

function Request ({ request, onDone }: { request: PairRequestView, onDone: () => void }) {
  const [code, setCode] = useState('')
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const act = async (action: () => Promise<unknown>): Promise<void> => {
    setBusy(true)
    setError(undefined)
    try {
      await action()
      onDone()
    } catch (err) {
      setError((err as Error).message)
      onDone()
    } finally {
      setBusy(false)
    }
  }
  const inputId = `pair-code-${request.id}`
  return (
    <form class='pair-request card' onSubmit={(e) => { e.preventDefault(); void act(async () => await api.accept(request.id, code)) }} aria-label={`Pairing request from ${request.name}`}>
      <KindIcon kind={request.kind} size={28} />
      <p class='pair-text'>
        <span><strong>{request.name}</strong> wants to join your devices.</span>
        <label for={inputId}>Type the code it shows:</label>
      </p>
      <input
        id={inputId} class='code-input' inputMode='numeric' autoComplete='one-time-code' pattern='[0-9]{6}' maxLength={6}
        placeholder='000000' value={code} onInput={(e) => { setCode((e.target as HTMLInputElement).value.replace(/\D/g, '')) }}
      />
      <button class='button primary' type='submit' disabled={busy || code.length !== 6}>Accept</button>
      <button class='button ghost' type='button' disabled={busy} onClick={() => { void act(async () => await api.reject(request.id)) }}>Reject</button>
      {error != null && <p class='error' role='alert'>{error}</p>}
    </form>
  )
}

/** Devices waiting to join, wherever the user is: they only wait a couple of minutes. */
export function PairRequests () {
  const requests = useResource(api.requests, ['pair'], [], 5_000)
  const list = requests.data ?? []
  if (list.length === 0) return null
  return (
    <section class='pair-requests' aria-label='Pairing requests' aria-live='polite'>
      {list.map(r => <Request key={r.id} request={r} onDone={requests.reload} />)}
    </section>
  )
}
