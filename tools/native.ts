import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('../', import.meta.url))

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
