#!/usr/bin/env node
/**
 * The `companion` command's entry (dist/companion.mjs). A daemon runs with V8 flags that can
 * only be set when a process starts (cli/node-flags.ts), so it re-executes itself: here, before
 * the command itself (dist/companion-main.mjs, a few MB of JavaScript) is even read, so a
 * starting daemon loads it once instead of twice (measured: ~1 s of CPU each, which twenty
 * daemons starting together on two cores felt as ten seconds).
 */
import { enableCompileCache } from 'node:module'
import { runWithDaemonNodeFlags } from './node-flags.ts'

// a text that says "daemon" re-executes a CLI command needlessly, and harmlessly
if (process.argv.slice(2).includes('daemon')) runWithDaemonNodeFlags()
// V8's compiled code of the bundle kept on disk (NODE_COMPILE_CACHE, else the temporary
// directory; silently off where it cannot be written): every later start, daemon or command,
// skips compiling it
enableCompileCache()
await import(new URL('./companion-main.mjs', import.meta.url).href)
