import { initials } from '../format.ts'

const HUE_CLASSES = 8

/** A round badge with initials (or a number's last digits), coloured by the label. */
export function Avatar ({ label }: { label: string }) {
  // FNV-1a: numbers that differ in one digit still get different colours
  let hash = 0x811c9dc5
  for (const c of label) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0
  return <span class={`avatar hue-${hash % HUE_CLASSES}`} aria-hidden='true'>{initials(label)}</span>
}
