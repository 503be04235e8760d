/**
 * Build the `companion` command into one ES module, dist/companion-main.mjs, behind a small
 * entry, dist/companion.mjs (cli/launch.ts). One bundle instead of
 * the ~600 modules of libp2p's dependency tree: measured, the idle daemon's RSS falls from
 * 116 MB to about 83 MB and it starts faster (bench: idle-rss, discovery-seen). Identifiers are
 * minified (the bundle's source stays in memory as long as the daemon runs: 2.4 → 1.5 MB with
 * kad-dht's prefix table moved out, tools/kad-prefixes.ts); function and class names are kept,
 * so stack traces stay readable, and the source map beside it (`node --enable-source-maps`) gives
 * the original lines.
 */
import { build, type BuildOptions } from 'esbuild'
import { build as buildPage } from 'vite'
import { fileURLToPath } from 'node:url'
import { native } from './native.ts'
import { kadPrefixesPlugin, PREFIX_LIST_INPUT, writePrefixFile } from './kad-prefixes.ts'
import { dirname, resolve } from 'node:path'

const root = fileURLToPath(new URL('../', import.meta.url))

/** Options shared with the benchmark's baseline, so both are measured the same way. */
export const BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minifySyntax: true,
  minifyWhitespace: true,
  // COMPANION_KEEP_IDENTIFIERS=1: every function named in CPU profiles and heap snapshots
  minifyIdentifiers: process.env.COMPANION_KEEP_IDENTIFIERS == null,
  keepNames: true,
  sourcemap: true,
  logLevel: 'warning',
  plugins: [kadPrefixesPlugin()],
  // native serial port bindings load their prebuilt binary at run time, from node_modules;
  // dbus-next has optional native parts it looks for at run time too
  external: ['serialport', '@serialport/*', 'dbus-next', 'sodium-native'],
  // some dependencies still call require(); give the ES module bundle one
  banner: { js: "import { createRequire as __companionRequire } from 'node:module'; const require = __companionRequire(import.meta.url);" }
}

export async function bundle (entry: string, outfile: string): Promise<void> {
  const { metafile } = await build({ ...BUNDLE_OPTIONS, entryPoints: [entry], outfile, absWorkingDir: root, metafile: true })
  // a bundle with kad-dht reads its prefix table from beside itself
  if (Object.keys(metafile.inputs).some(path => path.endsWith(PREFIX_LIST_INPUT))) await writePrefixFile(dirname(resolve(root, outfile)))
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // the entry re-executes a daemon with its V8 flags before the command is loaded (cli/launch.ts)
  await Promise.all([bundle('cli/launch.ts', 'dist/companion.mjs'), bundle('cli/main.ts', 'dist/companion-main.mjs'), page(), native()])
}
