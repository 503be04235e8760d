import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'esbuild'
import { PREFIX_COUNT, PREFIX_ENTRY_BYTES, PREFIX_FILE, PrefixTableError } from '../node/kad-prefix-file.ts'

/**
 * The build's side of node/kad-prefix-file.ts: kad-dht's prefix table written as a file beside
 * the bundle, and the bundle reading it from there instead of carrying the literal.
 */

/** The library's table (not among its exports: found beside its entry). */
export const PREFIX_LIST_URL = new URL('./routing-table/generated-prefix-list.js', import.meta.resolve('@libp2p/kad-dht'))
/** How the literal's module is named among a bundle's inputs. */
export const PREFIX_LIST_INPUT = 'routing-table/generated-prefix-list.js'
const READER = fileURLToPath(new URL('../node/kad-prefix-file.ts', import.meta.url))

export function encodePrefixes (list: readonly number[]): Uint8Array {
  if (list.length !== PREFIX_COUNT) throw new PrefixTableError(`kad-dht's prefix table has ${list.length} entries, expected ${PREFIX_COUNT}`)
  const out = new Uint8Array(list.length * PREFIX_ENTRY_BYTES)
  list.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** (8 * PREFIX_ENTRY_BYTES)) throw new PrefixTableError(`kad-dht's prefix table entry ${i} (${n}) does not fit ${PREFIX_ENTRY_BYTES} bytes`)
    const at = i * PREFIX_ENTRY_BYTES
    out[at] = n >>> 16
    out[at + 1] = (n >>> 8) & 0xff
    out[at + 2] = n & 0xff
  })
  return out
}

/** Writes the library's table to `dir`/kad-prefixes.bin. */
export async function writePrefixFile (dir: string): Promise<void> {
  const list = (await import(PREFIX_LIST_URL.href) as { default: number[] }).default
  await mkdir(dir, { recursive: true })
  await writeFile(`${dir}/${PREFIX_FILE}`, encodePrefixes(list))
}

/** esbuild: the literal's module becomes a table read from the file beside the bundle. */
export function kadPrefixesPlugin (): Plugin {
  const contents = `import { prefixTable } from ${JSON.stringify(READER)}\nexport default prefixTable(new URL(${JSON.stringify(`./${PREFIX_FILE}`)}, import.meta.url))\n`
  return {
    name: 'kad-prefixes',
    setup (build) {
      build.onLoad({ filter: /[\\/]@libp2p[\\/]kad-dht[\\/]dist[\\/]src[\\/]routing-table[\\/]generated-prefix-list\.js$/ }, () => ({ contents, loader: 'js', resolveDir: dirname(READER) }))
    }
  }
}
