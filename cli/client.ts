import { request } from 'node:http'
import { controlSocketPath } from '../daemon/paths.ts'
import { CliError } from './errors.ts'

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

  /** A long request whose answer is one JSON object per line (e.g. pairing progress). */
  async * lines (method: string, path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const payload = JSON.stringify(body)
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method, signal, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => { reject(err.name === 'AbortError' ? err : this.notRunning(err)) })
      req.end(payload)
    })
    let buffer = ''
    for await (const chunk of res as AsyncIterable<Buffer>) {
      buffer += chunk.toString('utf8')
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (line.trim() !== '') yield JSON.parse(line) as Record<string, unknown>
      }
    }
    if (buffer.trim() !== '') {
      const last = JSON.parse(buffer) as Record<string, unknown> & { error?: { message?: string } }
      if ((res.statusCode ?? 200) >= 400) throw new CliError(last.error?.message ?? `HTTP ${res.statusCode ?? '?'}`)
      yield last
    }
  }

  /** Follow the daemon's event stream until `signal` aborts or the daemon goes away. */
  async * events (types: string[] = [], signal?: AbortSignal): AsyncGenerator<ControlEvent> {
    const query = types.length > 0 ? `?types=${encodeURIComponent(types.join(','))}` : ''
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path: `/v1/events${query}`, method: 'GET', signal }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => { reject(err.name === 'AbortError' ? err : this.notRunning(err)) })
      req.end()
    })
    let buffer = ''
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        buffer += chunk.toString('utf8')
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const type = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (type != null && data != null) yield { type, data: JSON.parse(data) }
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err
    }
  }
}
