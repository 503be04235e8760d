import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json'
}

/** Built pages are small (tens of kB); more than this in the directory is a mistake. */
export const MAX_STATIC_BYTES = 8 * 1024 * 1024

export interface StaticFile {
  body: Buffer
  type: string
  /** Names under assets/ carry a content hash: they never change. */
  immutable: boolean
}

/**
 * Where the built page is: next to the bundle (dist/companion.mjs → dist/ui), or, when the
 * daemon runs from its sources, in the repository's dist/ui.
 */
export function defaultUiDir (): string | undefined {
  const candidates = [new URL('./ui/', import.meta.url), new URL('../../dist/ui/', import.meta.url)]
  return candidates.map(u => fileURLToPath(u)).find(dir => existsSync(join(dir, 'index.html')))
}

/**
 * The page's files, read once at start into memory. Requests are looked up by exact path in
 * this table, so no request path ever reaches the file system (no traversal to defend).
 */
export class StaticFiles {
  private readonly files: Map<string, StaticFile>

  private constructor (files: Map<string, StaticFile>) {
    this.files = files
  }

  static async load (dir: string): Promise<StaticFiles> {
    const files = new Map<string, StaticFile>()
    let total = 0
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const type = CONTENT_TYPES[extname(entry.name)]
      if (type == null) continue
      const path = join(entry.parentPath, entry.name)
      const body = await readFile(path)
      total += body.byteLength
      if (total > MAX_STATIC_BYTES) throw new Error(`${dir} holds more than ${MAX_STATIC_BYTES} bytes of page files`)
      const name = '/' + relative(dir, path).split(sep).join('/')
      files.set(name, { body, type, immutable: name.startsWith('/assets/') })
    }
    return new StaticFiles(files)
  }

  get (path: string): StaticFile | undefined {
    return this.files.get(path === '/' ? '/index.html' : path)
  }
}
