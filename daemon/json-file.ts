import { readFile } from 'node:fs/promises'
import { writeSecretFile } from '../node/index.ts'

/** Replace a JSON file in one step, readable by this user only (writeSecretFile: aside, fsync, rename). */
export async function writeJsonFile (path: string, value: unknown): Promise<void> {
  await writeSecretFile(path, Buffer.from(JSON.stringify(value, null, 2) + '\n'))
}

/** A JSON file's value; undefined when there is no such file. */
export async function readJsonFile (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return JSON.parse(text)
}
