import { resolve } from 'node:path'
import type { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { printJson, table } from './output.ts'

/** `companion contacts [import FILE.vcf]`: the account's address book, on every device. */
export function contactsCommands (program: Command, client: (cmd: Command) => ControlClient): void {
  const contacts = program.command('contacts')
    .description('names for numbers, on every device: from the phone\'s contacts (companion sms import) and vCard files')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await client(cmd).request(API.contacts)
      if (opts.json === true) printJson(list)
      else if (list.length === 0) process.stdout.write('no contacts (companion sms import on the phone, or companion contacts import FILE.vcf)\n')
      else process.stdout.write(table(['NAME', 'NUMBERS'], list.map(c => [c.name, c.numbers.join(', ')])) + '\n')
    })

  contacts.command('import')
    .description('add the contacts of a vCard file (vCard 3 or 4, as phones and address books export them) for every device of the account')
    .argument('<file>', 'a .vcf file')
    .option('--json', 'print JSON')
    .action(async (file: string, given: { json?: boolean }, cmd: Command) => {
      // `contacts` takes --json too: after `import` commander hands it to the parent
      const opts = { json: given.json === true || cmd.parent?.opts<{ json?: boolean }>().json === true }
      const result = await client(cmd).request(API.importContacts, { body: { path: resolve(file) } })
      if (opts.json === true) printJson(result)
      else process.stdout.write(`${result.contacts} contact${result.contacts === 1 ? '' : 's'} new or changed${result.unreadable === 0 ? '' : `; ${result.unreadable} number${result.unreadable === 1 ? '' : 's'} could not be read (national numbers need a phone of the account whose SIM tells its country)`}\n`)
    })
}
