import { createHash, randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { readJsonFile, writeJsonFile } from '../json-file.ts'

/** A link printed by `companion ui` works once, for this long. */
export const UI_TOKEN_TTL_MS = 5 * 60_000
/** A browser that came in with a token stays signed in this long. */
export const UI_SESSION_TTL_MS = 30 * 24 * 60 * 60_000
/** Bounds, so nothing a caller does can grow them without limit. */
export const MAX_UI_TOKENS = 32
export const MAX_UI_SESSIONS = 64
/** Secrets are 32 random bytes, base64url. */
const SECRET_BYTES = 32

const log = logger('companion:ui')

function secret (): string {
  return randomBytes(SECRET_BYTES).toString('base64url')
}

/** Only hashes are kept: the sessions file (and memory) never hold a usable secret. */
function digest (value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

export interface UiSessionsInit {
  /** Where sessions survive a daemon restart (0600). */
  file: string
  now?: () => number
}

/**
 * One-time tokens (in links printed by `companion ui`) and the browser sessions they turn
 * into. A token is spent by its first use; a session is a cookie the page cannot read.
 */
export class UiSessions {
  private readonly file: string
  private readonly now: () => number
  /** digest → expiry */
  private readonly tokens = new Map<string, number>()
  private sessions = new Map<string, number>()

  constructor (init: UiSessionsInit) {
    this.file = init.file
    this.now = init.now ?? Date.now
  }

  async load (): Promise<void> {
    try {
      const raw = await readJsonFile(this.file)
      if (raw == null) return
      const entries = Object.entries(raw as Record<string, unknown>)
        .filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > this.now())
      this.sessions = new Map(entries.slice(-MAX_UI_SESSIONS))
    } catch (err) {
      // a damaged file only costs the user a fresh `companion ui`
      log.error('ignoring damaged %s - %e', this.file, err)
    }
  }

  issueToken (): { token: string, expiresAt: number } {
    this.prune(this.tokens, MAX_UI_TOKENS - 1)
    const token = secret()
    const expiresAt = this.now() + UI_TOKEN_TTL_MS
    this.tokens.set(digest(token), expiresAt)
    return { token, expiresAt }
  }

  /** Spend a token: a new session secret, or undefined when the token is unknown, used or expired. */
  async redeem (token: string): Promise<{ session: string, expiresAt: number } | undefined> {
    const key = digest(token)
    const expiry = this.tokens.get(key)
    this.tokens.delete(key)
    if (expiry == null || expiry <= this.now()) return undefined
    this.prune(this.sessions, MAX_UI_SESSIONS - 1)
    const session = secret()
    const expiresAt = this.now() + UI_SESSION_TTL_MS
    this.sessions.set(digest(session), expiresAt)
    await this.save()
    return { session, expiresAt }
  }

  valid (session: string | undefined): boolean {
    if (session == null || session === '') return false
    const expiry = this.sessions.get(digest(session))
    return expiry != null && expiry > this.now()
  }

  /** Sign a browser out (and forget its session on disk). */
  async end (session: string): Promise<void> {
    if (this.sessions.delete(digest(session))) await this.save()
  }

  /** Drop expired entries, then the oldest ones beyond `keep`. */
  private prune (map: Map<string, number>, keep: number): void {
    const now = this.now()
    for (const [key, expiry] of map) if (expiry <= now) map.delete(key)
    for (const key of [...map.keys()].slice(0, Math.max(0, map.size - keep))) map.delete(key)
  }

  private async save (): Promise<void> {
    await writeJsonFile(this.file, Object.fromEntries(this.sessions))
  }
}
