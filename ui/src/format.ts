/** Words and numbers as the page shows them. */
import type { DeviceEntry, MessageView } from './api.ts'

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

/** "14:05" today, "Mon" this week, "3 Nov" this year, else "3 Nov 2025". */
export function shortTime (at: number, now = Date.now()): string {
  const date = new Date(at)
  const today = new Date(now)
  if (date.toDateString() === today.toDateString()) return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
  if (now - at < 6 * DAY) return date.toLocaleDateString(undefined, { weekday: 'short' })
  if (date.getFullYear() === today.getFullYear()) return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })
}

export function fullTime (at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/** A day separator in a conversation. */
export function dayLabel (at: number, now = Date.now()): string {
  const date = new Date(at)
  const today = new Date(now)
  if (date.toDateString() === today.toDateString()) return 'Today'
  if (date.toDateString() === new Date(now - DAY).toDateString()) return 'Yesterday'
  return date.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: date.getFullYear() === today.getFullYear() ? undefined : 'numeric' })
}

/** "+15551234567" → "+1 555 123 4567"-ish grouping, just for reading; sender ids as they are. */
export function displayNumber (number: string): string {
  if (!/^\+\d{8,15}$/.test(number)) return number
  const digits = number.slice(1)
  const cc = digits.startsWith('1') || digits.startsWith('7') ? 1 : 2
  const rest = digits.slice(cc)
  const groups = rest.match(/.{1,3}/g) ?? []
  if (groups.length > 1 && (groups.at(-1)?.length ?? 0) < 3) groups.splice(-2, 2, (groups.at(-2) ?? '') + (groups.at(-1) ?? ''))
  return `+${digits.slice(0, cc)} ${groups.join(' ')}`
}

/** A conversation's or message's title: the contact's name where one is known, else the numbers. */
export function conversationTitle (numbers: string[], name?: string | null): string {
  return name ?? numbers.map(displayNumber).join(', ')
}

/** Names of known devices by id; an unknown id shows as its short prefix. */
export function deviceName (devices: DeviceEntry[] | undefined, id: string | null): string {
  if (id == null) return 'no phone yet'
  const device = devices?.find(d => d.id === id)
  if (device == null) return `device ${id.slice(-6)}`
  return device.relation === 'self' ? `${device.name} (this device)` : device.name
}

/** The status line under an outgoing bubble, in words. */
export function statusText (message: MessageView, devices: DeviceEntry[] | undefined): string {
  // device to device with another companion account: no phone carried it
  if (message.seenAt != null) return `Read · ${shortTime(message.seenAt)}`
  if (message.route === 'network' && message.status === 'delivered') return `Delivered over companion-link · from ${deviceName(devices, message.via)}`
  const phone = message.via == null ? 'a phone' : deviceName(devices, message.via)
  switch (message.status) {
    case 'pending': return message.via == null ? 'Waiting for a phone' : `Waiting for ${phone}`
    case 'accepted': return `Accepted by ${phone}`
    case 'sent': return `Sent by ${phone}`
    case 'delivered': return `Delivered · sent by ${phone}`
    case 'failed': return `Not sent: ${message.reason ?? 'the phone could not send it'}`
    case 'unauthorized': return `Refused by ${phone}: ${message.reason ?? 'this device may not send SMS through it'}`
    case 'received': return message.via == null ? 'Received' : `Received by ${phone}`
  }
}

export function initials (text: string): string {
  const letters = text.replace(/[^\p{L}\p{N} ]/gu, '').split(' ').filter(Boolean)
  if (letters.length === 0) return '#'
  if (/^\+?\d/.test(text)) return text.replace(/\D/g, '').slice(-2)
  return letters.slice(0, 2).map(w => w[0]?.toUpperCase() ?? '').join('')
}

