import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ORACLE = fileURLToPath(new URL('./tools/gammu-oracle.py', import.meta.url))

/** Ask libGammu (Debian's python3-gammu), the independent SMS codec: one process for a list of requests. */
export function gammu<T> (requests: Array<Record<string, unknown>>): T[] {
  const out = execFileSync('/usr/bin/python3', [ORACLE], { input: JSON.stringify(requests), maxBuffer: 64 * 1024 * 1024 })
  return JSON.parse(out.toString()) as T[]
}

/** SMS-DELIVER PDUs (hex, with SMSC) that libGammu writes for `text` from `from`. */
export function deliverPdus (text: string, from: string): string[] {
  const [answer] = gammu<{ pdus: string[], error?: string }>([{ op: 'encode', text, number: from }])
  if (answer == null || answer.error != null) throw new Error(`libGammu could not encode: ${answer?.error ?? 'no answer'}`)
  return answer.pdus
}
