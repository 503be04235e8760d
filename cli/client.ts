import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { request } from '../daemon/control/http.ts'
import { pipeline } from 'node:stream/promises'
import { controlSocketPath } from '../daemon/paths.ts'
import { CliError } from './errors.ts'
import { LineReader } from '../framing/lines.ts'
import { API, urlOf, type Endpoint, type Input, type InputOf, type OutputOf } from '../daemon/control/contract.ts'

/** A route's input: optional where the route takes nothing. */
export type InputArgs<E> = Record<never, never> extends InputOf<E> ? [input?: InputOf<E>] : [input: InputOf<E>]

/** How long a control request may take before the CLI gives up. */
export const REQUEST_TIMEOUT_MS = 30_000

export interface ControlEvent {
  type: string
  data: unknown
}

/** The CLI's only way into a daemon: HTTP + JSON on the control socket of its data directory. */
export class ControlClient {
  readonly dataDir: string
  readonly socketPath: string

  constructor (dataDir: string) {
    this.dataDir = dataDir
    this.socketPath = controlSocketPath(dataDir)
  }

  private notRunning (err: NodeJS.ErrnoException): CliError {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      return new CliError(`no daemon is running on ${this.dataDir}; start one with: companion daemon --data-dir ${this.dataDir}`)
    }
    if (err.code === 'EACCES') return new CliError(`not allowed to open ${this.socketPath}; run as the user who owns the daemon`)
    return new CliError(`cannot reach the daemon on ${this.socketPath}: ${err.message}`)
  }

  /** Call a route of the contract; resolves with what the contract says it answers. */
  async request<E extends Endpoint> (endpoint: E, ...[input]: InputArgs<E>): Promise<OutputOf<E>> {
    const given: Input = input ?? {}
    return await this.call<OutputOf<E>>(endpoint.method, urlOf(endpoint, given), given.body)
  }

  /** Follow a route that answers in lines (pairing, forwards, waiting for a status), line by line. */
  async * follow<E extends Endpoint> (endpoint: E, input: InputOf<E>, signal?: AbortSignal): AsyncGenerator<OutputOf<E>> {
    const given: Input = input
    for await (const line of this.lines(endpoint.method, urlOf(endpoint, given), given.body, signal)) yield line as OutputOf<E>
  }

  /** Any request by method and path (tests and tools; commands use `request`). */
  async call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise<T>((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath,
        path,
        method,
        headers: payload == null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: REQUEST_TIMEOUT_MS
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          let parsed: unknown
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch {
            reject(new CliError(`the daemon sent an unreadable answer (HTTP ${res.statusCode ?? '?'})`))
            return
          }
          if ((res.statusCode ?? 500) >= 400) {
            const message = (parsed as { error?: { message?: string } }).error?.message ?? `HTTP ${res.statusCode ?? '?'}`
            reject(new CliError(message))
            return
          }
          resolve(parsed as T)
        })
        res.on('error', reject)
      })
      req.on('timeout', () => { req.destroy(new CliError(`the daemon did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`)) })
      req.on('error', (err: NodeJS.ErrnoException) => { reject(err instanceof CliError ? err : this.notRunning(err)) })
      req.end(payload)
    })
  }

  /** Send the bytes of `file` as the body of `path` (an upload); the JSON answer. */
  async upload<T> (path: string, file: string, type: string): Promise<T> {
    const size = (await stat(file)).size
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method: 'POST', headers: { 'content-type': type, 'content-length': size } }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => { reject(this.notRunning(err)) })
      pipeline(createReadStream(file), req).catch(reject)
    })
    const text = await readAll(res)
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch { throw new CliError(`the daemon sent an unreadable answer (HTTP ${res.statusCode ?? '?'})`) }
    if ((res.statusCode ?? 500) >= 400) throw new CliError((parsed as { error?: { message?: string } }).error?.message ?? `HTTP ${res.statusCode ?? '?'}`)
    return parsed as T
  }

  /** A request answered with a file's bytes: the response to read them from (an error answer throws). */
  async download (path: string, signal?: AbortSignal): Promise<IncomingMessage> {
    const res = await this.open('GET', path, undefined, signal)
    if ((res.statusCode ?? 500) < 400) return res
    const text = await readAll(res)
    let message = `HTTP ${res.statusCode ?? '?'}`
    try { message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message } catch {}
    throw new CliError(message)
  }

  /** Open a long-lived request; its answer is read as it arrives. */
  private async open (method: string, path: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const headers = payload == null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
      const req = request({ socketPath: this.socketPath, path, method, signal, headers }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => { reject(err.name === 'AbortError' ? err : this.notRunning(err)) })
      req.end(payload)
    })
  }

  /** Split a streamed answer into records at `separator`. */
  private async * records (res: IncomingMessage, separator: string): AsyncGenerator<string> {
    const reader = new LineReader({ separator })
    // decoded by the stream, so a character split between two chunks arrives whole
    res.setEncoding('utf8')
    for await (const chunk of res as AsyncIterable<string>) yield * reader.push(chunk)
    if (reader.rest().trim() !== '') yield reader.rest()
  }

  /** A long request whose answer is one JSON object per line (e.g. pairing progress). */
  async * lines (method: string, path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const res = await this.open(method, path, body, signal)
    try {
      for await (const line of this.records(res, '\n')) {
        const value = JSON.parse(line) as Record<string, unknown> & { error?: { message?: string } }
        if ((res.statusCode ?? 200) >= 400) throw new CliError(value.error?.message ?? `HTTP ${res.statusCode ?? '?'}`)
        yield value
      }
    } catch (err) {
      // interrupted on purpose (Ctrl-C): the end, not an error
      if (signal?.aborted !== true) throw err
    }
  }

  /**
   * Follow the daemon's event stream (Server-Sent Events) until `signal` aborts or the daemon
   * goes away. `onOpen` is called once the daemon follows for us: every event after that is seen.
   */
  async * events (types: string[] = [], signal?: AbortSignal, onOpen?: () => void): AsyncGenerator<ControlEvent> {
    const res = await this.open(API.events.method, urlOf(API.events, { query: { types: types.length > 0 ? types.join(',') : undefined } }), undefined, signal)
    onOpen?.()
    try {
      for await (const block of this.records(res, '\n\n')) {
        const type = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (type != null && data != null) yield { type, data: JSON.parse(data) }
      }
    } catch (err) {
      // interrupted on purpose: the socket reports "aborted" or an AbortError, either is the end
      if ((err as Error).name !== 'AbortError' && signal?.aborted !== true) throw err
    }
  }
}

async function readAll (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}
