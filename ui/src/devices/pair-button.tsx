import { useEffect, useRef, useState } from 'preact/hooks'
import { API } from '../../../daemon/control/contract.ts'
import { lines, type DeviceEntry } from '../api.ts'

type State = { step: 'idle' } | { step: 'asking' } | { step: 'code', code: string } | { step: 'paired' } | { step: 'failed', message: string }

/** This device joins `device`'s account: show the code the user must type over there. */
export function PairButton ({ device }: { device: DeviceEntry }) {
  const [state, setState] = useState<State>({ step: 'idle' })
  const abort = useRef<AbortController | undefined>(undefined)
  useEffect(() => () => { abort.current?.abort() }, [])

  const start = (): void => {
    abort.current = new AbortController()
    setState({ step: 'asking' })
    lines(API.pair, { body: { device: device.id } }, abort.current.signal, (line) => {
      if (line.event === 'code') setState({ step: 'code', code: String(line.code) })
      else if (line.event === 'paired') setState({ step: 'paired' })
      else if (line.event === 'failed') setState({ step: 'failed', message: String(line.message) })
    }).catch((err: Error) => {
      if (err.name !== 'AbortError') setState({ step: 'failed', message: err.message })
    })
  }
  const cancel = (): void => {
    abort.current?.abort()
    setState({ step: 'idle' })
  }

  switch (state.step) {
    case 'idle': return <button class='button' onClick={start}>Pair</button>
    case 'asking': return <span class='muted small' role='status'>Asking {device.name}…</span>
    case 'code': return (
      <div class='pair-code' role='status'>
        <span>On {device.name}, type</span>
        <strong class='code' data-testid='pair-code'>{state.code}</strong>
        <button class='button ghost' onClick={cancel}>Cancel</button>
      </div>
    )
    case 'paired': return <span class='ok small' role='status'>Paired with {device.name}</span>
    case 'failed': return (
      <span class='error small' role='alert'>
        {state.message} <button class='button ghost' onClick={start}>Try again</button>
      </span>
    )
  }
}
