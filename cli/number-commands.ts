import type { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { CliError } from './errors.ts'
import { printJson, table } from './output.ts'

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19)

/** `companion numbers [verify <number>]`: numbers of other companion-link users, verified by SMS. */
export function numberCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  const numbers = program.command('numbers')
    .description('numbers verified to belong to other companion-link accounts (their phones proved they got a code texted to them)')
    .option('--json', 'print JSON: [{ number, account, verified, verifiedAt }]')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await client(cmd).request(API.numbers)
      if (opts.json === true) printJson(list)
      else if (list.length === 0) process.stdout.write('no verified numbers (companion numbers verify NUMBER)\n')
      else process.stdout.write(table(['NUMBER', 'ACCOUNT', 'VERIFIED'], list.map(n => [n.number, n.account, when(n.verifiedAt)])) + '\n')
    })

  numbers.command('verify')
    .description('check that a number belongs to another companion-link user: a phone of yours texts it a code, and their account proves it got it')
    .argument('<number>', 'the number, in international form')
    .option('--json', 'print JSON lines: { event: claimed | code-sent | verified | failed, ... }')
    .action(async (number: string, given: { json?: boolean }, cmd: Command) => {
      // `numbers` takes --json too: after `verify` commander hands it to the parent
      const opts = { json: given.json === true || cmd.parent?.opts<{ json?: boolean }>().json === true }
      for await (const line of client(cmd).follow(API.verifyNumber, { body: { number } })) {
        if (opts.json === true) process.stdout.write(JSON.stringify(line) + '\n')
        if (line.event === 'failed') throw new CliError(line.message)
        if (opts.json === true) continue
        if (line.event === 'claimed') process.stderr.write(`${line.accounts} companion-link account${line.accounts === 1 ? '' : 's'} claim${line.accounts === 1 ? 's' : ''} ${number}; texting a code…\n`)
        if (line.event === 'code-sent') process.stderr.write(`code texted from ${line.from}; waiting for the proof…\n`)
        if (line.event === 'verified') process.stdout.write(`${line.number} belongs to account ${line.account}\n`)
      }
    })
}
