import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { loadMallocTrim, MemoryTrimmer, type MallocTrim } from '../../daemon/memory-trim.ts'
import { tempDir } from '../../testbed/index.ts'
import { startHelper } from '../../testbed/processes.ts'
import { native } from '../../tools/native.ts'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/**
 * Wait in small steps: Node delivers gc entries from an unref'd immediate, which runs only when
 * something else wakes the event loop (in a daemon, the next packet or timer).
 */
async function sleep (ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) await new Promise(resolve => setTimeout(resolve, 10))
}

/**
 * A process that leaves holes in the middle of its malloc heap (20,000 buffers of 4 KB freed,
 * a small one kept after every 64th, as a catch-up's buffers interleave with long-lived ones),
 * then reports the heap's resident KB before and after calling trim() (or not).
 */
async function holes (addon: string, callTrim: boolean): Promise<{ before: number, after: number, released: boolean }> {
  const script = `
    import { readFileSync } from 'node:fs'
    const heapKb = () => readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/)
      .filter(m => m.split('\\n')[0].includes('[heap]')).reduce((kb, m) => kb + Number(/\\nRss:\\s+(\\d+)/.exec(m)[1]), 0)
    const addon = { exports: {} }
    process.dlopen(addon, ${JSON.stringify(addon)})
    let freed = []
    const kept = []
    for (let i = 0; i < 20000; i++) { freed.push(Buffer.alloc(4000, 1)); if (i % 64 === 0) kept.push(Buffer.alloc(64, 1)) }
    freed = null
    gc(); await new Promise(resolve => setTimeout(resolve, 300)); gc()
    const before = heapKb()
    const released = ${callTrim ? 'addon.exports.trim()' : 'false'}
    process.stdout.write(JSON.stringify({ before, after: heapKb(), released, kept: kept.length }))`
  const child = startHelper([process.execPath, '--expose-gc', '--input-type=module', '-e', script], undefined, { env: { MALLOC_ARENA_MAX: '1' } })
  assert.equal(await child.exited, 0)
  return JSON.parse(child.stdout()) as { before: number, after: number, released: boolean }
}

describe('giving freed memory back (malloc_trim)', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let addon: string
  let mallocTrim: MallocTrim

  before(async () => {
    addon = join(tmp.path, 'malloc-trim.node')
    // CI and a Linux install have a C compiler: a build without the helper is a failure here
    assert.equal(await native(addon), true, 'native/malloc-trim.c builds')
    const loaded = loadMallocTrim([join(tmp.path, 'absent.node'), addon])
    assert.ok(loaded != null, 'the helper loads from the first path that exists')
    mallocTrim = loaded
  })

  after(() => { tmp.cleanup() })

  it('gives back the pages a burst of small buffers left in the middle of the heap', async () => {
    const kept = await holes(addon, false)
    const trimmed = await holes(addon, true)
    // without trim, glibc keeps them: the holes are pinned by the small buffers after them
    assert.ok(kept.after > kept.before - 8 * 1024, `untrimmed heap ${kept.before} → ${kept.after} KB`)
    assert.ok(kept.before > 60 * 1024, `the burst left ${kept.before} KB resident`)
    assert.equal(trimmed.released, true)
    assert.ok(trimmed.after < trimmed.before - 50 * 1024, `trimmed heap ${trimmed.before} → ${trimmed.after} KB`)
  })

  it('refuses a file that is not the helper, and finds nothing where nothing was built', () => {
    assert.equal(loadMallocTrim([join(tmp.path, 'absent.node')]), undefined)
    assert.equal(loadMallocTrim([new URL(import.meta.url).pathname]), undefined)
  })

  it('trims a while after each major collection, at most once per interval, and not after stop()', async () => {
    let trims = 0
    const trimmer = new MemoryTrimmer({ mallocTrim: { trim: () => { trims++; return mallocTrim.trim() } }, delayMs: 20, minIntervalMs: 2_000 })
    // (waits by condition, not fixed sleeps: on a busy machine the gc entry comes late)
    const until = async (done: () => boolean): Promise<void> => { for (const end = Date.now() + 5_000; !done() && Date.now() < end;) await sleep(10) }
    try {
      collect()
      await until(() => trims >= 1)
      assert.equal(trims, 1, 'one trim after the first major collection')
      collect()
      collect()
      await sleep(150)
      assert.equal(trims, 1, 'not again within the interval')
      await until(() => trims >= 2)
      assert.equal(trims, 2, 'once more at the interval\'s end, for both collections')
      assert.equal(trimmer.counts.trims, 2)
      await sleep(600)
      assert.equal(trims, 2, 'nothing while nothing is collected')
    } finally {
      trimmer.stop()
    }
    collect()
    await sleep(150)
    assert.equal(trims, 2, 'nothing after stop()')
  })
})
