import type { Duplex } from 'node:stream'
import { Priority, type Channel } from '../../link/index.ts'
import { ControlError } from './contract.ts'
import { toControlError } from './error-table.ts'
import { jsonRoute, streamRoute, upgradeRoute, type ControlRequest, type Route } from './router.ts'
import { API, type ForwardLine, type LinkRow } from './contract.ts'

/** What the link routes ask of the daemon. */
export interface LinkApi {
  links(device?: string): Promise<LinkRow[]>
  /** Open a channel to a device (resolving `<device>` like every command). */
  openChannel(device: string, name: string, priority: Priority): Promise<Channel>
  /** Forward 127.0.0.1:localPort here to device:remotePort until `signal` aborts. */
  forward(localPort: number, device: string, remotePort: number, signal: AbortSignal): Promise<{ device: string }>
  pipe(socket: Duplex, channel: Channel): Promise<void>
}

function port (value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) throw new ControlError(400, 'invalid_body', `${what} must be a port from 1 to 65535`)
  return value as number
}

function requireParam (req: ControlRequest, name: string): string {
  const value = req.query.get(name)
  if (value == null || value === '' || value.length > 200) throw new ControlError(400, 'invalid_query', `give ?${name}=…`)
  return value
}

export function linkRoutes (api: LinkApi): Route[] {
  return [
    jsonRoute(API.links, async (req) => await api.links(req.query.get('device') ?? undefined)),
    // the socket becomes the channel: stdin/stdout of `companion connect`
    upgradeRoute(API.connect, async (req, socket, head) => {
      const priority = req.query.get('priority') === 'bulk' ? Priority.BULK : Priority.INTERACTIVE
      const channel = await api.openChannel(requireParam(req, 'device'), requireParam(req, 'channel'), priority)
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: companion-channel\r\nconnection: upgrade\r\n\r\n')
      if (head.byteLength > 0) socket.unshift(head)
      void api.pipe(socket, channel)
    }),
    // one line when listening, then held open: the forward lives as long as the request
    streamRoute(API.forward, (req, res) => {
      const body = req.body as Record<string, unknown> | undefined
      if (body == null || typeof body !== 'object' || typeof body.device !== 'string') throw new ControlError(400, 'invalid_body', 'give { localPort, device, remotePort }')
      const localPort = port(body.localPort, 'localPort')
      const remotePort = port(body.remotePort, 'remotePort')
      const abort = new AbortController()
      res.on('close', () => { abort.abort() })
      api.forward(localPort, body.device, remotePort, abort.signal).then(
        (result) => {
          res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' })
          const line: ForwardLine = { event: 'listening', localPort, remotePort, device: result.device }
          res.write(JSON.stringify(line) + '\n')
        },
        (err: Error) => {
          const e = toControlError(err, 'forward', { status: 409, code: 'forward_failed' })
          res.writeHead(e.status, { 'content-type': 'application/json; charset=utf-8' })
          res.end(JSON.stringify({ error: { code: e.code, message: e.message } }))
        }
      )
    })
  ]
}
