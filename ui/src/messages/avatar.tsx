import { initials } from '../format.ts'

const HUE_CLASSES = 8

/** A round badge with initials (or a number's last digits), coloured by the label. */
export function Avatar ({ label }: { label: string }) {
  let hash = 0
  for (const c of label) hash = (hash * 31 + c.charCodeAt(0)) >>> 0
  return <span class={`avatar hue-${hash % HUE_CLASSES}`} aria-hidden='true'>{initials(label)}</span>
}
