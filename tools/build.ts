/**
 * Build the `companion` command into one ES module, dist/companion-main.mjs, behind a small
 * entry, dist/companion.mjs (cli/launch.ts). One bundle instead of
 * the ~600 modules of libp2p's dependency tree: measured, the idle daemon's RSS falls from
 * 116 MB to about 83 MB and it starts faster (bench: idle-rss, discovery-seen). Identifiers are
 * kept, so stack traces stay readable.
 */
import { build, type BuildOptions } from 'esbuild'
import { build as buildPage } from 'vite'
import { fileURLToPath } from 'node:url'
import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../', import.meta.url))

/** Options shared with the benchmark's baseline, so both are measured the same way. */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
  // native serial port bindings load their prebuilt binary at run time, from node_modules;
  // dbus-next has optional native parts it looks for at run time too
  external: ['serialport', '@serialport/*', 'dbus-next', 'sodium-native'],
  // some dependencies still call require(); give the ES module bundle one
  banner: { js: "import { createRequire as __companionRequire } from 'node:module'; const require = __companionRequire(import.meta.url);" }
}

export async function bundle (entry: string, outfile: string): Promise<void> {
  await build({ ...BUNDLE_OPTIONS, entryPoints: [entry], outfile, absWorkingDir: root })
}

/**
 * The web page (ui/, Preact) into dist/ui, which the daemon serves from memory. No source maps
 * and no inline scripts: the page's Content-Security-Policy allows scripts from itself only.
 */
export async function page (): Promise<void> {
  await buildPage({
    configFile: false,
    root: `${root}ui`,
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: { outDir: `${root}dist/ui`, emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false }, reportCompressedSize: false }
  })
}

/**
 * native/malloc-trim.c into dist/malloc-trim.node (daemon/memory-trim.ts), with the system's C
 * compiler and Node-API's headers (node-api-headers). Optional: without a compiler (or off
 * Linux) the daemon runs without it and says so at debug level.
 */
export async function native (outFile = `${root}dist/malloc-trim.node`): Promise<boolean> {
  if (process.platform !== 'linux') return false
  await mkdir(dirname(outFile), { recursive: true })
  const args = ['-shared', '-fPIC', '-O2', '-Wall', '-I', `${root}node_modules/node-api-headers/include`, `${root}native/malloc-trim.c`, '-o', outFile]
  try {
    await promisify(execFile)(process.env.CC ?? 'cc', args)
    return true
  } catch (err) {
    process.stderr.write(`build: native/malloc-trim.c not built (${(err as Error).message.split('\n')[0]}); the daemon runs without giving freed memory back early\n`)
    return false
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // the entry re-executes a daemon with its V8 flags before the command is loaded (cli/launch.ts)
  await Promise.all([bundle('cli/launch.ts', 'dist/companion.mjs'), bundle('cli/main.ts', 'dist/companion-main.mjs'), page(), native()])
}
