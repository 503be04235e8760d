import { ControlError } from './contract.ts'
import type { DaemonEvents } from '../daemon-events.ts'
import type { DeviceEntry, DevicePatch, Status } from './types.ts'
import { jsonRoute, openEventStream, streamRoute, type Route } from './router.ts'
import { API } from './contract.ts'
import { objectBody } from './body.ts'

/** What the control API asks of the daemon about this device and the devices it knows. */
export interface DaemonApi {
  status(): Promise<Status>
  devices(): Promise<DeviceEntry[]>
  device(query: string): Promise<DeviceEntry>
  updateSelf(patch: DevicePatch): Promise<Status>
  dial(multiaddr: string): Promise<DeviceEntry>
}

/** Status, devices, rename, dial, and the event stream. */
export function controlRoutes (api: DaemonApi, events: DaemonEvents): Route[] {
  return [
    jsonRoute(API.status, async () => await api.status()),
    jsonRoute(API.devices, async () => await api.devices()),
    jsonRoute(API.device, async (req) => await api.device(req.params.device ?? '')),
    jsonRoute(API.updateSelf, async (req) => {
      const body = objectBody(req, ['name', 'kind'])
      if (body.name === undefined && body.kind === undefined) throw new ControlError(400, 'empty_patch', 'give a name or a kind to change')
      return await api.updateSelf(body as DevicePatch)
    }),
    jsonRoute(API.dial, async (req) => {
      const body = objectBody(req, ['multiaddr'])
      if (typeof body.multiaddr !== 'string') throw new ControlError(400, 'invalid_body', 'multiaddr must be a string such as /ip4/198.18.1.2/tcp/4001/p2p/12D3Koo...')
      return await api.dial(body.multiaddr)
    }),
    streamRoute(API.events, (req, res) => {
      const wanted = req.query.get('types')?.split(',').filter(Boolean)
      const send = openEventStream(res)
      const unsubscribe = events.subscribe((type, data) => {
        if (wanted == null || wanted.includes(type)) send(type, data)
      })
      res.on('close', unsubscribe)
    })
  ]
}
