/**
 * Shapes of the link layer that others show (the control API, the CLI, the web page).
 * No imports: a browser build can use them too.
 */

/** Interface classes, best first (their predetermined rank is in interface-class.ts). */
export type LinkKind = 'wired' | 'usb' | 'wifi' | 'vpn' | 'bluetooth' | 'relayed' | 'loopback' | 'unknown'

/** One link to a member device, as `companion links --json` shows it. */
export interface LinkInfo {
  device: string
  id: string
  kind: LinkKind
  local: string | null
  remote: string
  state: 'active' | 'standby' | 'probing'
  rank: number
  rttMs: number | null
  active: boolean
}
