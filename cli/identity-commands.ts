import { Command, Option } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { CliError, UsageError } from './errors.ts'
import { printJson, table } from './output.ts'


/** `pair`, `unpair`, `grant`, `revoke`, `grants`. `client(cmd)` finds the daemon of --data-dir. */
export function identityCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  const pair = program.command('pair')
    .description('join the account of another device: prints a code to type on that device (see also: pair requests, pair accept)')
    .argument('[device]', 'a device of the account to join (name, id or id prefix; see companion devices)')
    .option('--timeout <seconds>', 'how long to wait for the code to be confirmed', '60')
    .action(async (device: string | undefined, opts: { timeout: string }, cmd: Command) => {
      if (device == null) throw new UsageError('name the device to pair with: companion pair <device> (or: pair requests, pair accept)')
      const timeoutS = Number(opts.timeout)
      if (!Number.isInteger(timeoutS) || timeoutS < 1 || timeoutS > 600) throw new UsageError('--timeout is a whole number of seconds from 1 to 600')
      const abort = new AbortController()
      const cancel = (): void => { abort.abort() }
      process.once('SIGINT', cancel)
      try {
        for await (const line of client(cmd).follow(API.pair, { body: { device, timeoutS } }, abort.signal)) {
          if (line.event === 'code') {
            process.stdout.write(`code: ${String(line.code)}\n`)
            process.stderr.write(`type this code on the other device: companion pair accept <this device> --code ${String(line.code)}\n`)
          } else if (line.event === 'paired') {
            process.stdout.write(`paired: this device is now a member of account ${String(line.account)}\n`)
            return
          } else if (line.event === 'failed') {
            throw new CliError(String(line.message))
          }
        }
        if (abort.signal.aborted) throw new CliError('pairing cancelled')
        throw new CliError('the daemon ended the pairing without an answer')
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw new CliError('pairing cancelled')
        throw err
      } finally {
        process.off('SIGINT', cancel)
      }
    })

  pair.command('requests')
    .description('pairing requests waiting on this device (the code is shown only on the joining device)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const requests = await client(cmd).request(API.pairRequests)
      if (opts.json === true) {
        printJson(requests)
        return
      }
      if (requests.length === 0) {
        process.stdout.write('no pairing requests are waiting\n')
        return
      }
      process.stdout.write(table(['NAME', 'KIND', 'EXPIRES', 'ID'], requests.map(r => [r.name, r.kind, `in ${Math.max(0, Math.round((r.expiresAt - Date.now()) / 1000))}s`, r.id])) + '\n')
    })

  pair.command('accept')
    .description('let a waiting device join this account, confirming the code it shows')
    .argument('<device>', 'the joining device (name, id or id prefix)')
    .addOption(new Option('--code <NNNNNN>', 'the 6-digit code the joining device shows').makeOptionMandatory())
    .action(async (device: string, opts: { code: string }, cmd: Command) => {
      if (!/^\d{6}$/.test(opts.code)) throw new UsageError('--code is the 6 digits the joining device shows')
      const res = await client(cmd).request(API.pairAccept, { body: { device, code: opts.code } })
      process.stdout.write(`paired: ${res.device} is now a member of this account\n`)
    })

  pair.command('reject')
    .description('refuse a waiting pairing request')
    .argument('<device>', 'the joining device')
    .action(async (device: string, _opts: unknown, cmd: Command) => {
      const res = await client(cmd).request(API.pairReject, { body: { device } })
      process.stdout.write(`refused the pairing request of ${res.device}\n`)
    })

  program.command('unpair')
    .description('remove a device from the account, on every device of it (naming this device leaves the account)')
    .argument('<device>', 'a member device (name, id or id prefix)')
    .action(async (device: string, _opts: unknown, cmd: Command) => {
      const res = await client(cmd).request(API.unpair, { body: { device } })
      process.stdout.write(res.left ? 'this device left the account and is now an account of its own\n' : `removed ${res.device} from the account\n`)
    })

  for (const [name, allowed] of [['grant', true], ['revoke', false]] as const) {
    program.command(name)
      .description(`${allowed ? 'allow' : 'forbid'} a member device to use a capability of this device (sms.send, sms.receive, tunnel, channels, channel:<name>)`)
      .argument('<device>', 'a member device')
      .argument('<capability>', 'sms.send, sms.receive, tunnel, channels or channel:<name>')
      .action(async (device: string, capability: string, _opts: unknown, cmd: Command) => {
        await client(cmd).request(API.setGrant, { body: { device, capability, allowed } })
        process.stdout.write(`${device} ${allowed ? 'may' : 'may not'} use ${capability} on this device\n`)
      })
  }

  program.command('grants')
    .description('this device\'s master list: which member devices may use which capability')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const entries = await client(cmd).request(API.grants)
      if (opts.json === true) {
        printJson(entries)
        return
      }
      if (entries.length === 0) {
        process.stdout.write('no member devices yet: pair one first\n')
        return
      }
      process.stdout.write(table(['DEVICE', 'CAPABILITY', 'ALLOWED', 'SOURCE', 'ID'], entries.map(e => [e.name, e.capability, e.allowed ? 'yes' : 'no', e.source, e.device])) + '\n')
    })
}
