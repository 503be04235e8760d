/**
 * V8 settings the daemon runs with. A young generation of 1 MiB instead of Node's default
 * 16 MiB: the idle daemon's RSS falls by about 11 MB, and the tunnel gets faster, not slower
 * (the allocation area stays in the CPU's cache: measured 196 → 254 MiB/s, 7.7 → 4.9 ms of
 * CPU per MiB, bench/tunnel-throughput.ts's stack in one process).
 * V8's memory saver mode: its heap grows by small steps and gives pages back as it shrinks.
 * Without it, a burst of work (a new device catching up on the whole message log: everything
 * in flight outlives the 1 MiB young generation) grew the heap to 70 MB before collecting, and
 * the freed pages stayed resident in V8's pool and glibc's arena for the daemon's life: the
 * soak's RSS floor stepped up 10-16 MB at the first such catch-up. Measured reading and framing
 * 30,000 log entries four times: resident beyond the heap 27 MB instead of 82, the malloc arena
 * 15 MB instead of 27, for 11 % more CPU in that loop.
 * Baseline (Sparkplug) code of functions not run for a while is dropped, as their bytecode is:
 * a daemon meets rare paths (a redial after a cut, a pairing, a removal) once in a while, and
 * their compiled code otherwise stays for its life (the soak's laptop: the heap left after each
 * full collection grew 19.5 → 22 MB over its first 20 minutes, then stayed).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--memory-saver-mode', '--flush-baseline-code']

/**
 * One malloc arena instead of one per thread (glibc): V8's helper threads and libuv's pool
 * allocate little, and each arena of their own kept pages resident. Measured: an idle daemon
 * with two neighbours 96 → 92.5 MB RSS, against 85 MB for a bare libp2p node.
 * Buffers of 256 KiB and more (a shared file's 1 MiB pieces) always mapped on their own, so
 * freeing one returns it to the system (glibc otherwise raises that threshold after the first
 * frees and serves later pieces from the heap). Tried against the soak's 10 MB step of the
 * laptop's RSS during file transfers: the step stayed (10.1 MB/h with it, 9.8 without): it was
 * buffers of a few KiB freed in the middle of the heap, which daemon/memory-trim.ts now gives
 * back after V8's major collections.
 */
export const DAEMON_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: String(256 * 1024) }

/**
 * Node 24 serves Buffers under half a pool from shared 64 KiB pools (8 KiB before). A small
 * slice that lives on (a peer id's digest, an address, a DHT distance) keeps its whole pool
 * resident: of twenty daemons on one LAN, each kept 14 such pools for its 19 neighbours (3 when
 * alone), 0.7 MB. With 8 KiB pools a kept slice costs at most 8 KiB, and larger buffers (4 KiB
 * and more: frames, file pieces) get memory of their own, freed with them. Measured, twenty
 * against one alone: RSS 1.089x / 1.077x with 64 KiB pools, 1.073x / 1.061x with 8 KiB, and
 * 1.071x / 1.073x with none at all (so no need to give up pooling).
 */
export const DAEMON_BUFFER_POOL_SIZE = 8 * 1024

/** Set on the re-executed process, so it can never loop. */
const REEXEC_MARK = 'COMPANION_NODE_FLAGS_APPLIED'

function alreadySet (flag: string): boolean {
  const name = flag.split('=')[0] as string
  return process.execArgv.some(arg => arg.startsWith(name)) || (process.env.NODE_OPTIONS ?? '').includes(name)
}

/**
 * Use DAEMON_BUFFER_POOL_SIZE, and replace this process by the same command with
 * DAEMON_NODE_FLAGS and DAEMON_ENV (same pid, same stdio, same environment besides) unless they,
 * or the user's own values for them, are set already. V8 reads them only at start, so they
 * can't be set from inside. Returns only when nothing had to change, or where Node can't exec
 * (Windows).
 */
export function runWithDaemonNodeFlags (): void {
  // read by Node each time it starts a new pool; harmless in a process about to be replaced
  Buffer.poolSize = DAEMON_BUFFER_POOL_SIZE
  if (process.env[REEXEC_MARK] != null) {
    // this is the re-executed process; processes it starts decide for themselves again
    delete process.env[REEXEC_MARK]
    return
  }
  const missing = DAEMON_NODE_FLAGS.filter(flag => !alreadySet(flag))
  // the user's own values win
  const env = Object.fromEntries(Object.entries(DAEMON_ENV).filter(([name]) => process.env[name] == null))
  if ((missing.length === 0 && Object.keys(env).length === 0) || typeof process.execve !== 'function') return
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...env, [REEXEC_MARK]: '1' })
}
