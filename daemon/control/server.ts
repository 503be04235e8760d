import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { chmod, unlink } from 'node:fs/promises'
import { ControlError } from './contract.ts'
import { closeServer, httpServer, listenOn, Router, type Route } from './router.ts'

/** Unix socket paths are limited by sockaddr_un (108 bytes on Linux, including the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107

/**
 * The control API: HTTP + JSON on a Unix socket that only this user can open (mode 0600, in a
 * 0700 data directory). Every error is JSON `{ error: { code, message } }` with a 4xx/5xx status.
 */
export class ControlServer {
  private readonly router: Router
  private readonly server: Server
  private socketPath?: string

  constructor (routes: Route[]) {
    this.router = new Router(routes)
    this.server = httpServer((req, res) => { void this.router.dispatch(req, res) })
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.router.upgrade(req, socket, head) })
  }

  async listen (socketPath: string): Promise<void> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new ControlError(500, 'socket_path_too_long', `the control socket path ${socketPath} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter --data-dir`)
    }
    // a socket left by a daemon that died; we hold the data directory lock, so it is not live
    await unlink(socketPath).catch(() => {})
    const umask = process.umask(0o177)
    try {
      await listenOn(this.server, socketPath)
    } finally {
      process.umask(umask)
    }
    await chmod(socketPath, 0o600)
    this.socketPath = socketPath
  }

  async close (): Promise<void> {
    await closeServer(this.server, this.router)
    if (this.socketPath != null) await unlink(this.socketPath).catch(() => {})
  }
}
