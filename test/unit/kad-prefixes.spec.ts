import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PREFIX_COUNT, PREFIX_ENTRY_BYTES, PREFIX_FILE, PrefixTableError, prefixTable, readPrefix } from '../../node/kad-prefix-file.ts'
import { encodePrefixes, PREFIX_LIST_URL } from '../../tools/kad-prefixes.ts'
import { tempDir } from '../../testbed/index.ts'
import { bundle } from '../../tools/build.ts'
import { execFileSync } from 'node:child_process'

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url))

async function libraryTable (): Promise<number[]> {
  return (await import(PREFIX_LIST_URL.href) as { default: number[] }).default
}

describe('kad-dht\'s prefix table, read from a file instead of a literal in the bundle', () => {
  it('reads back every entry of the library\'s table', async () => {
    const list = await libraryTable()
    const dir = tempDir()
    try {
      const file = join(dir.path, PREFIX_FILE)
      writeFileSync(file, encodePrefixes(list))
      const table = prefixTable(file)
      assert.equal(table.length, list.length)
      for (let i = 0; i < list.length; i += 97) assert.equal(table[i], list[i], `entry ${i}`)
      assert.equal(table[PREFIX_COUNT - 1], list[PREFIX_COUNT - 1])
      assert.equal(table[PREFIX_COUNT], undefined, 'past the end')
      assert.equal(readPrefix(file, -1), undefined)
      assert.equal(readPrefix(file, 1.5), undefined)
    } finally {
      dir.cleanup()
    }
  })

  it('refuses a table that does not fit, and a file cut short', () => {
    assert.throws(() => encodePrefixes([1, 2, 3]), PrefixTableError)
    assert.throws(() => encodePrefixes(Array.from({ length: PREFIX_COUNT }, (_, i) => i === 9 ? 2 ** 24 : i)), PrefixTableError)
    const dir = tempDir()
    try {
      const file = join(dir.path, PREFIX_FILE)
      writeFileSync(file, new Uint8Array(10 * PREFIX_ENTRY_BYTES))
      assert.equal(readPrefix(file, 9), 0)
      assert.throws(() => readPrefix(file, 10), PrefixTableError)
    } finally {
      dir.cleanup()
    }
  })

  it('kad-dht bundled as the daemon is makes its bucket keys from the file', async function () {
    this.timeout(60_000)
    const list = await libraryTable()
    const dir = tempDir()
    try {
      const out = join(dir.path, 'kad-refresh.mjs')
      await bundle('test/unit/fixtures/kad-refresh.ts', out)
      const cases = [[0, 0], [12_345, 1], [65_535, 3], [40_000, 15]] as const
      const printed = execFileSync(process.execPath, [out, ...cases.map(([r, cpl]) => `${r}:${cpl}`)], { encoding: 'utf8' }).trim().split('\n').map(Number)
      // refresh.js: the (cpl+1)th bit of our prefix (0 here) toggled, the rest from r
      const expected = cases.map(([r, cpl]) => {
        const mask = 65535 << (16 - (cpl + 1))
        return list[((0x8000 >> cpl) & mask) | (r & ~mask & 0xffff)]
      })
      assert.deepEqual(printed, expected)
      assert.ok(!readFileSync(out, 'utf8').includes(list.slice(0, 8).join(',')), 'the literal is not in the bundle')
    } finally {
      dir.cleanup()
    }
  })

  it('the built daemon carries the table as a file beside its bundle, not as a literal', async () => {
    const list = await libraryTable()
    assert.deepEqual(readFileSync(join(DIST, PREFIX_FILE)), Buffer.from(encodePrefixes(list)), 'run `npm run build` first')
    const bundle = readFileSync(join(DIST, 'companion-main.mjs'), 'utf8')
    assert.ok(!bundle.includes(list.slice(0, 8).join(',')), 'the literal is not in the bundle')
    assert.ok(bundle.includes(PREFIX_FILE), 'the bundle reads the file')
  })
})
