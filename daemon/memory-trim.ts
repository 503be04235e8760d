import { existsSync } from 'node:fs'
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import type { NodeGCPerformanceDetail } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { logger } from '@libp2p/logger'

/**
 * Giving freed malloc memory back to the system after a burst of work.
 *
 * glibc returns freed memory only from the top of its heap. A burst (a device catching up on the
 * whole message log, a file shared) allocates thousands of buffers of a few KiB; once they are
 * freed, the pages they leave in the middle of the heap stay resident for the daemon's life.
 * Measured (soak, 64 MB log): the laptop's malloc heap stepped 14.7 → 22.4 MB at the first
 * catch-up it served and never came down; malloc_trim(0) after such a catch-up gave 5.8 MB back.
 * Ruby's collector does the same after each major collection. Here: a while after V8's major
 * collections (its sweeper frees the buffers' memory on a helper thread just after), at most once
 * per TRIM_MIN_INTERVAL_MS. No timer runs while nothing is collected, so an idle daemon pays
 * nothing.
 */

/** The compiled helper (native/malloc-trim.c, built by tools/build.ts beside the bundle). */
export const MALLOC_TRIM_ADDON = 'malloc-trim.node'
/** After a major collection, wait this long: the buffers it found dead are freed just after. */
export const TRIM_DELAY_MS = 1_000
/** Trim at most this often: under load major collections come every few seconds. */
export const TRIM_MIN_INTERVAL_MS = 10_000

const log = logger('companion:memory')

export interface MallocTrim {
  /** malloc_trim(0): true if memory was given back. */
  trim: () => boolean
}

/** Where the helper may be: beside the bundle (dist/), or dist/ seen from the sources. */
function candidates (): string[] {
  return [`./${MALLOC_TRIM_ADDON}`, `../dist/${MALLOC_TRIM_ADDON}`].map(path => fileURLToPath(new URL(path, import.meta.url)))
}

/** The helper, or undefined where it was not built (no C compiler, not glibc) or fails to load. */
export function loadMallocTrim (paths: string[] = candidates()): MallocTrim | undefined {
  for (const path of paths) {
    if (!existsSync(path)) continue
    try {
      const module = { exports: {} as Partial<MallocTrim> }
      process.dlopen(module, path)
      if (typeof module.exports.trim === 'function') return { trim: module.exports.trim }
      log.error('%s does not export trim()', path)
    } catch (err) {
      log.error('%s could not be loaded - %e', path, err)
    }
  }
  return undefined
}

export interface MemoryTrimmerOptions {
  mallocTrim: MallocTrim
  delayMs?: number
  minIntervalMs?: number
}

/** Trims after V8's major collections; `stop()` ends it. */
export class MemoryTrimmer {
  private readonly mallocTrim: MallocTrim
  private readonly delayMs: number
  private readonly minIntervalMs: number
  private readonly observer: PerformanceObserver
  private timer?: ReturnType<typeof setTimeout>
  private last = -Infinity
  /** Trims done. */
  readonly counts = { trims: 0 }

  constructor (options: MemoryTrimmerOptions) {
    this.mallocTrim = options.mallocTrim
    this.delayMs = options.delayMs ?? TRIM_DELAY_MS
    this.minIntervalMs = options.minIntervalMs ?? TRIM_MIN_INTERVAL_MS
    this.observer = new PerformanceObserver((list) => {
      if (list.getEntries().some(isMajorCollection)) this.schedule()
    })
    this.observer.observe({ entryTypes: ['gc'] })
  }

  stop (): void {
    this.observer.disconnect()
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }

  private schedule (): void {
    if (this.timer != null) return
    const wait = Math.max(this.delayMs, this.last + this.minIntervalMs - performance.now())
    this.timer = setTimeout(() => { this.run() }, wait)
    // never what keeps the process alive
    this.timer.unref()
  }

  private run (): void {
    this.timer = undefined
    this.last = performance.now()
    const released = this.mallocTrim.trim()
    this.counts.trims++
    log('malloc_trim after a major collection took %d ms, released: %s', Math.round(performance.now() - this.last), released)
  }
}

function isMajorCollection (entry: PerformanceEntry): boolean {
  return ((entry as PerformanceEntry & { detail?: NodeGCPerformanceDetail }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR
}

/** Start trimming where the helper exists; undefined (and nothing running) where it does not. */
export function startMemoryTrimmer (): MemoryTrimmer | undefined {
  const mallocTrim = loadMallocTrim()
  if (mallocTrim == null) {
    log('no %s: freed memory is given back by malloc alone', MALLOC_TRIM_ADDON)
    return undefined
  }
  return new MemoryTrimmer({ mallocTrim })
}
