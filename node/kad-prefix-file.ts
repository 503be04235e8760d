import { closeSync, openSync, readSync } from 'node:fs'

/**
 * kad-dht's table of random keys per bucket prefix (routing-table/generated-prefix-list.js, an
 * array literal of 65,536 numbers, 397 KB) as the daemon's bundle carries it: a file of 3 bytes
 * per entry beside the bundle, read an entry at a time. As a literal it cost every daemon about
 * 1 MB for good (its source in the bundle, the array and its boilerplate on the heap) and 4.7 MB
 * more while it was compiled, for a few lookups every 5 minutes. tools/kad-prefixes.ts writes the
 * file and puts `prefixTable` in the literal's place.
 */

export const PREFIX_FILE = 'kad-prefixes.bin'
/** Every entry fits 3 bytes (the largest is 753,014). */
export const PREFIX_ENTRY_BYTES = 3
export const PREFIX_COUNT = 65_536

export class PrefixTableError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'PrefixTableError'
  }
}

/** Entry `index` of the table in `path` (an open, a 3-byte read, a close), or undefined out of range. */
export function readPrefix (path: string | URL, index: number): number | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= PREFIX_COUNT) return undefined
  const fd = openSync(path, 'r')
  try {
    const b = Buffer.alloc(PREFIX_ENTRY_BYTES)
    if (readSync(fd, b, 0, PREFIX_ENTRY_BYTES, index * PREFIX_ENTRY_BYTES) !== PREFIX_ENTRY_BYTES) throw new PrefixTableError(`${String(path)} is cut short: it has no entry ${index}`)
    return (b[0] as number) << 16 | (b[1] as number) << 8 | (b[2] as number)
  } finally {
    closeSync(fd)
  }
}

/** An array-like over the file: the library only indexes it. */
export function prefixTable (path: string | URL): readonly number[] {
  return new Proxy([], {
    get (target, key) {
      if (typeof key === 'string' && /^[0-9]+$/.test(key)) return readPrefix(path, Number(key))
      if (key === 'length') return PREFIX_COUNT
      return Reflect.get(target, key)
    }
  }) as readonly number[]
}
