import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import { createServer, STATUS_CODES } from './http.ts'
import type { Duplex } from 'node:stream'
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { ControlError, type Endpoint, type OutputOf } from './contract.ts'
import { toControlError } from './error-table.ts'

/** Limits of the control API. */
/** A request body: room for the longest text (39,015 units, each escaped in JSON) with its recipients. */
export const MAX_BODY_BYTES = 320 * 1024
export const MAX_EVENT_CLIENTS = 64
export const EVENT_KEEPALIVE_MS = 15_000
/** A client has this long to send its headers, and its whole request. */
export const HEADERS_TIMEOUT_MS = 10_000
export const REQUEST_TIMEOUT_MS = 30_000

export interface ControlRequest {
  params: Record<string, string>
  query: URLSearchParams
  /** The parsed JSON body; undefined when the request had none. */
  body: unknown
}

export type JsonHandler = (req: ControlRequest) => unknown
/** A long-lived response (the event stream): write to `res` until the client goes away. */
export type StreamHandler = (req: ControlRequest, res: ServerResponse) => void | Promise<void>

/** An HTTP upgrade: the socket becomes a raw byte stream (e.g. a channel for `companion connect`). */
export type UpgradeHandler = (req: ControlRequest, socket: Duplex, head: Buffer) => Promise<void>

/** Bytes in or out (a file): the request's body is not read for the handler, which answers itself. */
export type BytesHandler = (req: ControlRequest, body: IncomingMessage, res: ServerResponse) => Promise<void>

/** A route of the contract (daemon/control/contract.ts) with what answers it. */
export interface Route extends Endpoint {
  json?: JsonHandler
  stream?: StreamHandler
  bytes?: BytesHandler
  upgrade?: UpgradeHandler
}

/** A route that answers one JSON value, of the type its contract says. */
export function jsonRoute<E extends Endpoint> (endpoint: E, handler: (req: ControlRequest) => OutputOf<E> | Promise<OutputOf<E>>): Route {
  return { ...endpoint, json: handler }
}

/** A route that answers as it goes (lines or events): it writes to the response itself. */
export function streamRoute (endpoint: Endpoint, handler: StreamHandler): Route {
  return { ...endpoint, stream: handler }
}

/** A route that takes or gives a file's bytes. */
export function bytesRoute (endpoint: Endpoint, handler: BytesHandler): Route {
  return { ...endpoint, bytes: handler }
}

/**
 * Answer with a file's bytes, served so that a page cannot be made to run them: `inline`
 * only for a type a browser shows as a picture, else a download; sandboxed, never sniffed.
 */
export async function sendFile (res: ServerResponse, file: { path: string, size: number, name: string, type: string, inline: boolean, cache: string }): Promise<void> {
  res.writeHead(200, {
    'content-type': file.inline ? file.type : 'application/octet-stream',
    'content-length': file.size,
    'content-disposition': `${file.inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    'content-security-policy': "default-src 'none'; sandbox",
    'x-content-type-options': 'nosniff',
    'cache-control': file.cache
  })
  await pipeline(createReadStream(file.path), res)
}

/** A route whose socket becomes a raw byte stream. */
export function upgradeRoute (endpoint: Endpoint, handler: UpgradeHandler): Route {
  return { ...endpoint, upgrade: handler }
}

interface CompiledRoute extends Route {
  pattern: RegExp
  names: string[]
}

function compile (route: Route): CompiledRoute {
  const names: string[] = []
  const source = route.path.split('/').map(seg => {
    if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    names.push(seg.slice(1))
    return '([^/]+)'
  }).join('/')
  return { ...route, pattern: new RegExp(`^${source}$`), names }
}

export function sendJson (res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value ?? null)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}

export function sendError (res: ServerResponse, err: ControlError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } })
}

async function readBody (req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new ControlError(413, 'body_too_large', `request bodies are at most ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) throw new ControlError(413, 'body_too_large', `request bodies are at most ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return undefined
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/json')) throw new ControlError(415, 'unsupported_media_type', 'request bodies must be application/json')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ControlError(400, 'invalid_json', 'the request body is not valid JSON')
  }
}

export function parseUrl (req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://daemon')
  } catch {
    throw new ControlError(400, 'invalid_url', 'the request URL is malformed')
  }
}

/**
 * Routes of the control API and how a request reaches one. Shared by the Unix socket server
 * (every route) and the web page's loopback server (the routes a page may use).
 */
export class Router {
  private readonly routes: CompiledRoute[]
  /** Open event streams and upgraded sockets, ended on close(). */
  private readonly streams = new Set<ServerResponse | Duplex>()

  constructor (routes: Route[]) {
    this.routes = routes.map(compile)
  }

  close (): void {
    for (const res of this.streams) res.end()
    this.streams.clear()
  }

  private match (method: string, path: string): { route: CompiledRoute, params: Record<string, string> } {
    let pathMatched = false
    for (const route of this.routes) {
      const m = route.pattern.exec(path)
      if (m == null) continue
      pathMatched = true
      if (route.method !== method) continue
      const params: Record<string, string> = {}
      route.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(m[i + 1] ?? '')
        } catch {
          throw new ControlError(400, 'invalid_path', `the path segment for ${name} is not valid percent-encoding`)
        }
      })
      return { route, params }
    }
    if (pathMatched) throw new ControlError(405, 'method_not_allowed', `${method} is not allowed on ${path}`)
    throw new ControlError(404, 'not_found', `no such endpoint: ${path}`)
  }

  async upgrade (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL = parseUrl(req)): Promise<void> {
    try {
      const { route, params } = this.match(req.method ?? 'GET', url.pathname)
      if (route.upgrade == null) throw new ControlError(400, 'no_upgrade', `${url.pathname} does not upgrade`)
      this.streams.add(socket)
      socket.on('close', () => this.streams.delete(socket))
      await route.upgrade({ params, query: url.searchParams, body: undefined }, socket, head)
    } catch (err) {
      // a channel the other device or the grants refused is not the daemon's failure
      const e = toControlError(err, `upgrade ${url.pathname}`, { status: 409, code: 'refused' })
      const body = JSON.stringify({ error: { code: e.code, message: e.message } })
      socket.end(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    }
  }

  /** Answer one request; `url` is the path as the routes know it. */
  async dispatch (req: IncomingMessage, res: ServerResponse, url: URL = parseUrl(req)): Promise<void> {
    try {
      const { route, params } = this.match(req.method ?? 'GET', url.pathname)
      if (route.bytes != null) {
        await route.bytes({ params, query: url.searchParams, body: undefined }, req, res)
        return
      }
      const body = await readBody(req)
      const request: ControlRequest = { params, query: url.searchParams, body }
      if (route.stream != null) {
        if (this.streams.size >= MAX_EVENT_CLIENTS) throw new ControlError(503, 'too_many_streams', `at most ${MAX_EVENT_CLIENTS} event streams at once`)
        this.streams.add(res)
        res.on('close', () => this.streams.delete(res))
        await route.stream(request, res)
        return
      }
      const result = await route.json?.(request)
      sendJson(res, req.method === 'POST' ? 201 : 200, result)
    } catch (err) {
      sendError(res, toControlError(err, `${req.method ?? ''} ${url.pathname}`))
    }
  }
}

/** Start a Server-Sent Events response; returns a writer for events. */
export function openEventStream (res: ServerResponse): (type: string, data: unknown) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' })
  res.write(': companion events\n\n')
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), EVENT_KEEPALIVE_MS)
  keepalive.unref()
  res.on('close', () => { clearInterval(keepalive) })
  return (type, data) => {
    if (!res.writableEnded) res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`)
  }
}

/** An HTTP server with the control API's timeouts (the Unix socket's and the page's). */
export function httpServer (handler: RequestListener): Server {
  const server = createServer(handler)
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  return server
}

/** Listen on a Unix socket path, or a port of `host`; rejects on EADDRINUSE and the like. */
export async function listenOn (server: Server, where: string | number, host?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      server.off('error', reject)
      resolve()
    }
    server.once('error', reject)
    if (typeof where === 'string') server.listen(where, done)
    else server.listen(where, host, done)
  })
}

/** End the router's streams and every connection, then stop listening. */
export async function closeServer (server: Server, router: Router): Promise<void> {
  router.close()
  server.closeAllConnections()
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}
