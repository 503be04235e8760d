import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { logger } from '@libp2p/logger'
import { ControlError } from '../control/contract.ts'
import { toControlError } from '../control/error-table.ts'
import { closeServer, httpServer, listenOn, parseUrl, Router, sendError, type Route } from '../control/router.ts'
import type { UiSessions } from './sessions.ts'
import type { StaticFiles } from './static-files.ts'
import { messagePage } from './pages.ts'

/** The page is for this machine's user only: it never listens on anything but loopback. */
export const UI_HOST = '127.0.0.1'
/** Where the page reaches the control API: the routes the contract marks for the page, and no others. */
export const UI_API_PREFIX = '/api'
/** The link printed by `companion ui`: `/auth?token=…` sets the session cookie and redirects to `/`. */
export const UI_AUTH_PATH = '/auth'
export const UI_LOGOUT_PATH = '/api/logout'

const log = logger('companion:ui')

/** Headers on every answer: no framing, no sniffing, no referrer, scripts only from here. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

export interface UiServerInit {
  routes: Route[]
  sessions: UiSessions
  /** The built page; undefined when it was not built (the API still answers). */
  files?: StaticFiles
}

function cookies (req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim())
  }
  return out
}

/**
 * The daemon's web page and the API it uses, on 127.0.0.1. Every request must name this
 * server in `Host` (DNS rebinding), come from this origin (`Origin`, `Sec-Fetch-Site`: another
 * port on 127.0.0.1 is same-site, so SameSite cookies alone would not stop it) and carry the
 * session cookie that a one-time token from `companion ui` bought.
 */
export class UiServer {
  private readonly router: Router
  private readonly sessions: UiSessions
  private readonly files?: StaticFiles
  private readonly server: Server
  private boundPort = 0
  /** This page's own origins, the only ones it answers (set once listening). */
  private origins: string[] = []

  constructor (init: UiServerInit) {
    // a route reaches browsers only where the contract says so (daemon/control/contract.ts); never an upgrade
    this.router = new Router(init.routes.filter(r => r.page && r.upgrade == null))
    this.sessions = init.sessions
    this.files = init.files
    this.server = httpServer((req, res) => { void this.handle(req, res) })
    // a page never upgrades: no raw channels from a browser
    this.server.on('upgrade', (_req, socket) => { socket.destroy() })
  }

  get port (): number {
    return this.boundPort
  }

  /** The session cookie's name carries the port: cookies ignore ports, two daemons must not share one. */
  get cookieName (): string {
    return `companion_session_${this.boundPort}`
  }

  async listen (port: number): Promise<number> {
    await listenOn(this.server, port, UI_HOST)
    this.boundPort = (this.server.address() as AddressInfo).port
    this.origins = [`http://${UI_HOST}:${this.boundPort}`, `http://localhost:${this.boundPort}`]
    return this.boundPort
  }

  /** A link that signs a browser in once. */
  link (): { url: string, expiresAt: number } {
    const { token, expiresAt } = this.sessions.issueToken()
    return { url: `http://${UI_HOST}:${this.boundPort}${UI_AUTH_PATH}?token=${token}`, expiresAt }
  }

  async close (): Promise<void> {
    await closeServer(this.server, this.router)
  }

  /** Refuse what did not come from this page on this machine (throws 403). */
  private checkOrigin (req: IncomingMessage): void {
    const host = req.headers.host
    if (host == null || !this.origins.includes(`http://${host}`)) {
      throw new ControlError(403, 'foreign_host', `this page answers only to ${UI_HOST}:${this.boundPort}`)
    }
    const origin = req.headers.origin
    const unsafe = !['GET', 'HEAD'].includes(req.method ?? 'GET')
    if ((origin != null || unsafe) && !this.origins.includes(origin ?? '')) {
      throw new ControlError(403, 'foreign_origin', 'requests from other sites are refused')
    }
    const site = req.headers['sec-fetch-site']
    if (site != null && site !== 'same-origin' && site !== 'none') {
      throw new ControlError(403, 'cross_site', 'requests from other sites are refused')
    }
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value)
    let page = true
    try {
      this.checkOrigin(req)
      const url = parseUrl(req)
      page = !url.pathname.startsWith(UI_API_PREFIX + '/')
      if (url.pathname === UI_AUTH_PATH) {
        await this.signIn(url, res)
        return
      }
      const session = cookies(req).get(this.cookieName)
      if (!this.sessions.valid(session)) throw new ControlError(401, 'no_session', 'open the page with the link `companion ui` prints')
      if (url.pathname === UI_LOGOUT_PATH && req.method === 'POST') {
        await this.sessions.end(session ?? '')
        res.writeHead(204, { 'set-cookie': `${this.cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` }).end()
        return
      }
      if (!page) {
        await this.router.dispatch(req, res, new URL(url.pathname.slice(UI_API_PREFIX.length) + url.search, 'http://daemon'))
        return
      }
      this.serveFile(url.pathname, req, res)
    } catch (err) {
      const e = toControlError(err, `page ${req.url ?? ''}`)
      if (e.status >= 500) log.error('page request %s failed - %e', req.url, err)
      if (page) messagePage(res, e.status, e.message)
      else sendError(res, e)
    }
  }

  private async signIn (url: URL, res: ServerResponse): Promise<void> {
    const granted = await this.sessions.redeem(url.searchParams.get('token') ?? '')
    if (granted == null) throw new ControlError(401, 'invalid_token', 'this link was already used or has expired: run `companion ui` for a new one')
    const maxAge = Math.floor((granted.expiresAt - Date.now()) / 1000)
    res.writeHead(303, {
      location: '/',
      'cache-control': 'no-store',
      'set-cookie': `${this.cookieName}=${granted.session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`
    }).end()
  }

  private serveFile (path: string, req: IncomingMessage, res: ServerResponse): void {
    if (this.files == null) throw new ControlError(503, 'not_built', 'the page was not built: run `npm run build` in the companion-link checkout')
    const file = this.files.get(path)
    if (file == null) throw new ControlError(404, 'not_found', `no such page: ${path}`)
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new ControlError(405, 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}`)
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.byteLength,
      'cache-control': file.immutable ? 'private, max-age=31536000, immutable' : 'no-cache'
    })
    res.end(req.method === 'HEAD' ? undefined : file.body)
  }
}
