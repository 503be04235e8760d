/**
 * `node soak/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--top N]`: what grew between
 * two heap snapshots of a daemon (`npm run soak -- --heap DIR` writes them), by constructor:
 * count and bytes before, after, and the difference, the largest growth first.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** Objects per constructor (type:name), with their shallow sizes. */
export function census (file: string): Map<string, { count: number, bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = heap.snapshot.meta.node_fields
  const types = heap.snapshot.meta.node_types[0]
  const width = fields.length
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')]
  const groups = new Map<string, { count: number, bytes: number }>()
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt] as number] ?? '?'
    // strings and code are grouped by kind; objects by constructor, native (C++) parts by name
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type}:${heap.strings[heap.nodes[i + nameAt] as number] ?? '?'}` : type
    const group = groups.get(name) ?? { count: 0, bytes: 0 }
    group.count++
    group.bytes += heap.nodes[i + sizeAt] as number
    groups.set(name, group)
  }
  return groups
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  const [beforeFile, afterFile] = positionals
  if (beforeFile == null || afterFile == null) {
    process.stderr.write('usage: node soak/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--top N]\n')
    process.exit(2)
  }
  const before = census(beforeFile)
  const after = census(afterFile)
  const names = new Set([...before.keys(), ...after.keys()])
  const rows = [...names].map(name => {
    const b = before.get(name) ?? { count: 0, bytes: 0 }
    const a = after.get(name) ?? { count: 0, bytes: 0 }
    return { name, count: a.count - b.count, bytes: a.bytes - b.bytes, before: b, after: a }
  }).sort((x, y) => y.bytes - x.bytes)
  const total = (m: Map<string, { bytes: number }>): number => [...m.values()].reduce((s, g) => s + g.bytes, 0)
  process.stdout.write(`heap ${(total(before) / 1e6).toFixed(1)} MB -> ${(total(after) / 1e6).toFixed(1)} MB\n`)
  for (const r of rows.slice(0, Number(values.top))) {
    process.stdout.write(`${(r.bytes / 1e3).toFixed(0).padStart(9)} kB ${String(r.count).padStart(8)} objects  ${r.name}  (${r.before.count} -> ${r.after.count})\n`)
  }
}
