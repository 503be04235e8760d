import { request } from '../daemon/control/http.ts'
import { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { CliError, UsageError } from './errors.ts'
import { printJson, table } from './output.ts'


/** `links`, `connect`, `forward`. */
export function linkCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  program.command('links')
    .description('every link to the devices of the account: kind, rank, round trip, state, and which carries the tunnel')
    .argument('[device]', 'only the links to this device')
    .option('--json', 'print JSON')
    .action(async (device: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const links = await client(cmd).request(API.links, { query: { device } })
      if (opts.json === true) {
        printJson(links.map(({ name: _name, ...link }) => link))
        return
      }
      if (links.length === 0) {
        process.stdout.write('no links: no device of the account is connected\n')
        return
      }
      process.stdout.write(table(['DEVICE', 'KIND', 'LOCAL', 'REMOTE', 'STATE', 'RANK', 'RTT', 'ID'],
        links.map(l => [l.name, l.kind, l.local ?? '-', l.remote, l.active ? 'active' : l.state, String(l.rank), l.rttMs == null ? '-' : `${l.rttMs}ms`, l.id])) + '\n')
    })

  program.command('connect')
    .description('stdin to a channel of another device, the channel to stdout, like nc (try the channel "echo")')
    .argument('<device>', 'a device of the account')
    .argument('<channel>', 'the channel name')
    .option('--bulk', 'send at bulk priority (below interactive channels)')
    .action(async (device: string, channel: string, opts: { bulk?: boolean }, cmd: Command) => {
      const api = client(cmd)
      const query = `device=${encodeURIComponent(device)}&channel=${encodeURIComponent(channel)}${opts.bulk === true ? '&priority=bulk' : ''}`
      await new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: api.socketPath, path: `/v1/connect?${query}`, headers: { connection: 'upgrade', upgrade: 'companion-channel' } })
        req.on('upgrade', (_res, socket, head) => {
          if (head.byteLength > 0) process.stdout.write(head)
          process.stdin.pipe(socket)
          socket.pipe(process.stdout)
          socket.on('close', () => {
            process.stdin.unpipe(socket)
            process.stdin.destroy()
            resolve()
          })
          socket.on('error', (err) => { reject(new CliError(`the channel failed: ${err.message}`)) })
        })
        req.on('response', (res) => {
          let text = ''
          res.on('data', (d: Buffer) => { text += d.toString() })
          res.on('end', () => {
            let message = `HTTP ${res.statusCode ?? '?'}`
            try { message = (JSON.parse(text) as { error: { message: string } }).error.message } catch {}
            reject(new CliError(message))
          })
        })
        req.on('error', (err: NodeJS.ErrnoException) => {
          reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new CliError(`no daemon is running on ${api.dataDir}; start one with: companion daemon --data-dir ${api.dataDir}`) : err)
        })
        req.end()
      })
    })

  program.command('forward')
    .description('a TCP port here that reaches a port on another device, over the tunnel, until Ctrl-C')
    .argument('<localPort>', 'port to listen on, on 127.0.0.1 of this device')
    .argument('<device:remotePort>', 'the device and its port (it must allow it: companion daemon --allow-port)')
    .action(async (local: string, target: string, _opts: unknown, cmd: Command) => {
      const localPort = Number(local)
      const at = target.lastIndexOf(':')
      const device = target.slice(0, at)
      const remotePort = Number(target.slice(at + 1))
      const isPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535
      if (!isPort(localPort) || at <= 0 || !isPort(remotePort)) throw new UsageError('usage: companion forward <localPort> <device>:<remotePort>, e.g. companion forward 8080 phone:80')
      const abort = new AbortController()
      const stop = (): void => { abort.abort() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        for await (const line of client(cmd).follow(API.forward, { body: { localPort, device, remotePort } }, abort.signal)) {
          if (line.event === 'listening') process.stdout.write(`forwarding 127.0.0.1:${localPort} to ${device}:${remotePort} (Ctrl-C to stop)\n`)
        }
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err
      }
    })
}
