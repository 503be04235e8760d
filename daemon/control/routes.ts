import { ControlError } from '../errors.ts'
import type { DaemonEvents } from '../daemon-events.ts'
import type { DeviceEntry, DevicePatch, Status } from './types.ts'
import { openEventStream, type Route } from './router.ts'
import { objectBody } from './body.ts'

/** What the control API asks of the daemon. */
export interface DaemonApi {
  status(): Promise<Status>
  devices(): Promise<DeviceEntry[]>
  device(query: string): Promise<DeviceEntry>
  updateSelf(patch: DevicePatch): Promise<Status>
  dial(multiaddr: string): Promise<DeviceEntry>
  events: DaemonEvents
}

export function controlRoutes (api: DaemonApi): Route[] {
  return [
    { method: 'GET', path: '/v1/status', json: async () => await api.status() },
    { method: 'GET', path: '/v1/devices', json: async () => await api.devices() },
    { method: 'GET', path: '/v1/devices/:device', json: async (req) => await api.device(req.params.device ?? '') },
    {
      method: 'PATCH',
      path: '/v1/self',
      json: async (req) => {
        const body = objectBody(req, ['name', 'kind'])
        if (body.name === undefined && body.kind === undefined) throw new ControlError(400, 'empty_patch', 'give a name or a kind to change')
        return await api.updateSelf(body as DevicePatch)
      }
    },
    {
      method: 'POST',
      path: '/v1/dial',
      json: async (req) => {
        const body = objectBody(req, ['multiaddr'])
        if (typeof body.multiaddr !== 'string') throw new ControlError(400, 'invalid_body', 'multiaddr must be a string such as /ip4/198.18.1.2/tcp/4001/p2p/12D3Koo...')
        return await api.dial(body.multiaddr)
      }
    },
    {
      method: 'GET',
      path: '/v1/events',
      stream: (req, res) => {
        const wanted = req.query.get('types')?.split(',').filter(Boolean)
        const send = openEventStream(res)
        const unsubscribe = api.events.subscribe((type, data) => {
          if (wanted == null || wanted.includes(type)) send(type, data)
        })
        res.on('close', unsubscribe)
      }
    }
  ]
}
