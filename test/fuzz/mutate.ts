/** Mutations of valid inputs: what a fuzz target is fed besides random bytes. */
import { pick, randomText } from '../../testbed/sms-events.ts'

type Random = () => number
const int = (random: Random, max: number): number => Math.floor(random() * (max + 1))

/** A byte string changed in one to four places: bits, bytes, ranges cut, doubled or spliced in from `other`. */
export function mutateBytes (random: Random, input: Uint8Array, other?: Uint8Array): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(input)
  for (let i = 1 + int(random, 3); i > 0; i--) {
    const at = int(random, Math.max(0, bytes.length - 1))
    switch (int(random, 6)) {
      case 0: if (bytes.length > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << int(random, 7)); break
      case 1: if (bytes.length > 0) bytes[at] = int(random, 255); break
      case 2: bytes = concat(bytes.subarray(0, at), Uint8Array.from({ length: 1 + int(random, 8) }, () => int(random, 255)), bytes.subarray(at)); break
      case 3: bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1 + int(random, 16))); break
      case 4: bytes = concat(bytes.subarray(0, at), bytes.subarray(at, at + int(random, 32)), bytes.subarray(at)); break
      case 5: bytes = bytes.subarray(0, at); break
      default: if (other != null) bytes = concat(bytes.subarray(0, at), other.subarray(int(random, other.length))); break
    }
  }
  return bytes
}

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** A value of any JSON type, often one a field does not expect. */
export function randomValue (random: Random, depth = 0): unknown {
  switch (int(random, depth > 1 ? 5 : 7)) {
    case 0: return null
    case 1: return random() < 0.5
    case 2: return pick(random, [0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e308, 255, 256, 65536])
    case 3: return randomText(random, int(random, 80))
    case 4: return randomText(random, pick(random, [200, 201, 4000, 39_015, 39_016]))
    case 5: return pick(random, ['out', 'in', 'message', 'status', 'assign', 'read', 'sent', 'e', 'h', 'hello', '+15550102030', 'BANK'])
    case 6: return Array.from({ length: int(random, 4) }, () => randomValue(random, depth + 1))
    default: return Object.fromEntries(Array.from({ length: int(random, 3) }, () => [pick(random, ['type', 'id', 'body', 'to', 'from', 'via', 'author', 'audience', 'seq', 'origin']), randomValue(random, depth + 1)]))
  }
}

/** A JSON value changed at one random place: a field replaced, removed or added, an array grown. */
export function mutateJson (random: Random, value: unknown): unknown {
  const copy = structuredClone(value)
  const containers: Array<Record<string, unknown> | unknown[]> = []
  const walk = (v: unknown): void => {
    if (v != null && typeof v === 'object') {
      containers.push(v as Record<string, unknown>)
      for (const child of Object.values(v)) walk(child)
    }
  }
  walk(copy)
  const target = containers.length === 0 ? undefined : pick(random, containers)
  if (target == null) return randomValue(random)
  if (Array.isArray(target)) {
    if (random() < 0.5 && target.length > 0) target[int(random, target.length - 1)] = randomValue(random)
    else for (let i = int(random, 300); i > 0; i--) target.push(target[0] ?? randomValue(random))
    return copy
  }
  const keys = Object.keys(target)
  const key = keys.length > 0 && random() < 0.8 ? pick(random, keys) : pick(random, ['type', 'extra', 'via', 'audience', 'from', 'reason'])
  if (random() < 0.2) Reflect.deleteProperty(target, key)
  else target[key] = randomValue(random)
  return copy
}
