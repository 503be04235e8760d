#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander'
import { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { resolveDataDir } from './data-dir.ts'
import { CliError, UsageError } from './errors.ts'
import { duration, printJson, table } from './output.ts'
import { runDaemon } from './daemon-command.ts'
import { identityCommands } from './identity-commands.ts'
import { linkCommands } from './link-commands.ts'
import { smsCommands } from './sms-commands.ts'
import { contactsCommands } from './contacts-commands.ts'
import { numberCommands } from './number-commands.ts'
import { carrierCommands } from './carrier-commands.ts'
import { uiCommand } from './ui-command.ts'
import { parseSize, shareCommands } from './share-commands.ts'
import { isAbsolute } from 'node:path'
import type { DeviceEntry as Device, Status } from '../daemon/control/types.ts'
import { backendHelp, NO_BACKEND } from '../sms/backends/registry.ts'

const KINDS = ['phone', 'tablet', 'laptop', 'desktop', 'watch', 'server']

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

function client (cmd: Command): ControlClient {
  const { dataDir } = cmd.optsWithGlobals<{ dataDir?: string }>()
  return new ControlClient(resolveDataDir(dataDir))
}

function printDevices (devices: Device[]): void {
  const rows = devices.map(d => [
    d.name,
    d.kind,
    d.relation,
    d.relation === 'self' ? '-' : d.online ? 'online' : 'offline',
    d.link == null ? '-' : `${d.link.kind}${d.link.rttMs == null ? '' : ` ${d.link.rttMs}ms`}`,
    d.id
  ])
  process.stdout.write(table(['NAME', 'KIND', 'RELATION', 'STATE', 'LINK', 'ID'], rows) + '\n')
}

function printStatus (s: Status): void {
  const rows = [
    ['id', s.id],
    ['name', `${s.name} (${s.kind})`],
    ['account', s.account ?? 'none'],
    ['sms', s.sms.backend === 'none' ? 'no backend' : `${s.sms.backend} (${s.sms.ready ? 'ready' : 'not ready'})${s.sms.number == null ? '' : ` as ${s.sms.number}`}`],
    ['uptime', duration(s.uptimeMs)],
    ['memory', `${s.memory.rssMb} MB (JavaScript heap ${s.memory.heapMb} MB, buffers ${s.memory.externalMb} MB)`],
    ['version', s.version],
    ...s.addresses.map((a, i) => [i === 0 ? 'addresses' : '', a])
  ]
  process.stdout.write(rows.map(([k, v]) => `${(k ?? '').padEnd(10)}${v ?? ''}`).join('\n') + '\n')
}

export function buildProgram (): Command {
  const program = new Command('companion')
    .description('companion-link: your devices, one link. Text from your laptop through your phone, with no server.')
    .option('--data-dir <dir>', 'the data directory of the daemon to act on (default: $COMPANION_HOME, else $XDG_DATA_HOME/companion)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })

  program.command('daemon')
    .description('run this device\'s daemon in the foreground; prints "ready <deviceId> <socket>" when serving')
    .option('--name <name>', 'this device\'s name (remembered; default: the host name)')
    .addOption(new Option('--kind <kind>', 'what this device is (remembered)').choices(KINDS))
    .option('--sms <backend>', backendHelp(), NO_BACKEND)
    .option('--sms-rate <n/min>', 'messages per minute each device may send through this phone', '30/min')
    .option('--sms-deny <number>', 'a number this phone never texts, repeatable, remembered (replaces the list)', collect)
    .option('--sms-allow <number>', 'a short code or premium number this phone may text, repeatable, remembered (replaces the list)', collect)
    .option('--listen <multiaddr>', 'listen address, repeatable (default: every IPv4 interface, TCP, a remembered port)', collect)
    .option('--no-mdns', 'do not use multicast DNS (for networks that block multicast; use --bootstrap)')
    .option('--bootstrap <multiaddr>', 'a device to connect to at start, repeatable, e.g. /ip4/198.18.1.2/tcp/4001/p2p/12D3Koo...', collect)
    .option('--interface-kind <iface=kind>', 'override the link kind of an interface, repeatable, remembered (e.g. eth1=wifi; kinds: wired usb wifi vpn bluetooth)', collect)
    .option('--allow-port <port>', 'a local TCP port other devices of the account may reach with forward, repeatable, remembered (replaces the list)', collect)
    .option('--tunnel-grace <seconds>', 'how long channels survive with no link to their device', '30')
    .option('--ui-port <port>', 'port of the web page on 127.0.0.1 (default: the remembered one, else any free port)')
    .option('--no-ui', 'do not serve the web page')
    .option('--no-discoverable', 'a phone: do not publish its number for other companion-link users to find (they text it by SMS then)')
    .option('--read-receipts', 'tell other companion-link users when you read their texts (off by default)')
    .option('--downloads <dir>', 'where files shared from your other devices land (default: the XDG download directory, else ~/Downloads)')
    .option('--share-max <size>', 'the largest file this device takes from another (e.g. 500M, 4G)', '4G')
    .action(async (opts: { name?: string, kind?: string, sms?: string, smsRate: string, smsDeny?: string[], smsAllow?: string[], listen?: string[], mdns: boolean, bootstrap?: string[], interfaceKind?: string[], allowPort?: string[], tunnelGrace: string, uiPort?: string, ui: boolean, discoverable: boolean, readReceipts?: boolean, downloads?: string, shareMax: string }, cmd: Command) => {
      const rate = /^([1-9]\d{0,5})(\/min)?$/.exec(opts.smsRate)?.[1]
      if (rate == null) throw new UsageError(`--sms-rate takes N/min, e.g. 30/min, not "${opts.smsRate}"`)
      const grace = Number(opts.tunnelGrace)
      if (!Number.isInteger(grace) || grace < 1 || grace > 3600) throw new UsageError('--tunnel-grace is a whole number of seconds from 1 to 3600')
      const uiPort = opts.uiPort == null ? undefined : Number(opts.uiPort)
      if (uiPort != null && !(Number.isInteger(uiPort) && uiPort >= 0 && uiPort <= 65535)) throw new UsageError('--ui-port is a port from 1 to 65535 (0: any free port)')
      const shareMax = parseSize(opts.shareMax)
      if (shareMax == null) throw new UsageError(`--share-max is a size such as 500M or 4G, not "${opts.shareMax}"`)
      if (opts.downloads != null && !isAbsolute(opts.downloads)) throw new UsageError('--downloads takes an absolute directory')
      const { interfaceKind, allowPort, tunnelGrace: _g, smsRate: _r, uiPort: _u, shareMax: _s, ...rest } = opts
      await runDaemon({ ...rest, smsRate: Number(rate), interfaceKinds: interfaceKind, allowPorts: allowPort, tunnelGraceS: grace, uiPort, shareMax, dataDir: client(cmd).dataDir })
    })

  program.command('status')
    .description('this device: id, name, account, addresses, SMS backend, uptime')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const status = await client(cmd).request(API.status)
      if (opts.json === true) printJson(status)
      else printStatus(status)
    })

  program.command('devices')
    .description('every known device: this one, members of the account, devices nearby')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const devices = await client(cmd).request(API.devices)
      if (opts.json === true) printJson(devices)
      else printDevices(devices)
    })

  program.command('rename')
    .description('change this device\'s name (and kind); other devices see it at once')
    .argument('<name>', 'the new name')
    .addOption(new Option('--kind <kind>', 'also change what this device is').choices(KINDS))
    .option('--json', 'print the new status as JSON')
    .action(async (name: string, opts: { kind?: string, json?: boolean }, cmd: Command) => {
      const status = await client(cmd).request(API.updateSelf, { body: { name, ...(opts.kind == null ? {} : { kind: opts.kind }) } })
      if (opts.json === true) printJson(status)
      else process.stdout.write(`this device is now "${status.name}" (${status.kind})\n`)
    })

  program.command('dial')
    .description('connect to a device by address, for networks where discovery cannot find it')
    .argument('<multiaddr>', 'e.g. /ip4/198.18.1.2/tcp/4001/p2p/12D3Koo...')
    .option('--json', 'print the device as JSON')
    .action(async (address: string, opts: { json?: boolean }, cmd: Command) => {
      const device = await client(cmd).request(API.dial, { body: { multiaddr: address } })
      if (opts.json === true) printJson(device)
      else process.stdout.write(`connected to ${device.name} (${device.id})\n`)
    })

  identityCommands(program, client)
  linkCommands(program, client)
  smsCommands(program, client)
  contactsCommands(program, client)
  numberCommands(program, client)
  shareCommands(program, client)
  carrierCommands(program)
  uiCommand(program, client)
  return program
}

export async function main (argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv)
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not failures; everything else commander rejects is bad usage
      return err.exitCode === 0 ? 0 : 2
    }
    const message = err instanceof CliError ? err.message : `unexpected error: ${(err as Error).stack ?? String(err)}`
    process.stderr.write(`companion: ${message}\n`)
    return err instanceof CliError ? err.exitCode : 1
  }
}

const code = await main(process.argv)
process.exitCode = code
