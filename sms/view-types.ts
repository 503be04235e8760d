/**
 * Messages and conversations as the control API, the CLI and the web page show them.
 * Type imports only: a browser build can use them too.
 */
import type { SmsStatus } from './constants.ts'

export interface StatusEntry {
  status: SmsStatus
  at: number
  /** The device that said it. */
  device: string
  reason?: string
}

/** A file a text device to device carries: named by the SHA-256 of its bytes. */
export interface Attachment {
  sha256: string
  size: number
  /** A plain file name (no directories, no control characters). */
  name: string
  /** Its media type, as the sender said it (`application/octet-stream` when unknown). */
  type: string
}

/** An attachment as a message shows it: `here` when this device holds it whole (else it is fetched when opened). */
export interface AttachmentView extends Attachment {
  here: boolean
}

/** A message as `companion sms list --json` shows it (CLI.md contract). */
export interface MessageView {
  id: string
  conversation: string
  direction: 'out' | 'in'
  from: string | null
  to: string[]
  body: string
  author: string
  via: string | null
  status: SmsStatus
  reason?: string
  statusHistory: StatusEntry[]
  createdAt: number
  read: boolean
  /** The other party's name from the contacts (of each party of a group, a number where none is known); null when none is known. */
  name: string | null
  /** `network`: device to device with another companion account; `sms`: through a phone; null while no one carries it yet. */
  route: 'sms' | 'network' | null
  /** When the recipient read it, if their account sends read receipts (texts device to device only); else null. */
  seenAt: number | null
  /** Files it carries (texts device to device only); empty for most. */
  attachments: AttachmentView[]
}

export interface ConversationView {
  conversation: string
  numbers: string[]
  /** From the contacts, as on a message; null when none is known. */
  name: string | null
  messages: number
  unread: number
  last: { id: string, direction: 'out' | 'in', body: string, status: SmsStatus, createdAt: number }
}

/** A person of the account's address book (`companion contacts --json`). */
export interface ContactView {
  id: string
  name: string
  /** E.164 numbers (or short codes). */
  numbers: string[]
}

/** A number bound to another account by verification (`companion numbers --json`). */
export interface NumberView {
  number: string
  account: string
  verified: boolean
  verifiedAt: number
}
