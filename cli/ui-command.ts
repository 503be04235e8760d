import { spawn } from 'node:child_process'
import type { Command } from 'commander'
import type { ControlClient } from './client.ts'
import { API } from '../daemon/control/contract.ts'
import { printJson } from './output.ts'

/** The program that opens a URL in the desktop's browser, where there is a desktop. */
function opener (): string[] | undefined {
  if (process.platform === 'darwin') return ['open']
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""']
  if (process.env.DISPLAY != null || process.env.WAYLAND_DISPLAY != null) return ['xdg-open']
  return undefined
}

function open (url: string): boolean {
  const command = opener()
  if (command == null) return false
  const [bin, ...args] = command
  try {
    const child = spawn(bin as string, [...args, url], { detached: true, stdio: 'ignore' })
    child.on('error', () => { process.stderr.write(`could not start ${bin as string}; open the link yourself\n`) })
    child.unref()
    return true
  } catch {
    return false
  }
}

/** `companion ui`: a one-time link to the daemon's web page, opened where a desktop is. */
export function uiCommand (program: Command, client: (cmd: Command) => ControlClient): void {
  program.command('ui')
    .description('print (and open) a one-time link to this daemon\'s messages page on 127.0.0.1')
    .option('--no-open', 'only print the link')
    .option('--json', 'print { url, expiresAt } as JSON')
    .action(async (opts: { open: boolean, json?: boolean }, cmd: Command) => {
      const link = await client(cmd).request(API.uiLink)
      if (opts.json === true) printJson(link)
      else process.stdout.write(link.url + '\n')
      const opened = opts.open && open(link.url)
      if (opts.json !== true) process.stderr.write(opened ? 'opening it in your browser; the link works once, within 5 minutes\n' : 'open it in a browser on this machine; it works once, within 5 minutes\n')
    })
}
