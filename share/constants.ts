/** The channel files and snippets go over between devices of one account (bulk priority). */
export const SHARE_CHANNEL = 'share'
/** What a receiving device checks before it takes anything (a grant of its master list, default on for members). */
export const SHARE_CAPABILITY = 'share'
/** A file is verified in pieces of this size as it lands; a transfer cut anywhere resumes from the last whole piece. */
export const SHARE_CHUNK_BYTES = 1024 * 1024
/** A file's pieces: at most this many (the header lists their hashes); larger files get larger pieces. */
export const MAX_SHARE_CHUNKS = 16_384
/** The largest file a device takes unless told otherwise (`--share-max`). */
export const DEFAULT_SHARE_MAX_BYTES = 4 * 1024 * 1024 * 1024
/** A text snippet or link. */
export const MAX_SHARE_TEXT_CHARS = 64 * 1024
/** A header (the piece hashes of the largest file fit) and every answer. */
export const MAX_SHARE_FRAME_BYTES = 2 * 1024 * 1024
/** Free space left on the receiver's disk besides the file (the disk is never filled to the last byte on purpose). */
export const FREE_SPACE_MARGIN_BYTES = 1024 * 1024
/** A transfer that could not go on (the device offline, the tunnel down) is tried again after this, doubling. */
/**
 * A partial file nobody has added to for this long is abandoned (the sender gave up, or was
 * removed): the receiver deletes it and its piece hashes, at start and once a day.
 */
export const ABANDONED_PARTIAL_MS = 7 * 24 * 60 * 60 * 1000
export const PARTIAL_SWEEP_EVERY_MS = 24 * 60 * 60 * 1000
/** What a partial file in the downloads is called: the sender's id (last 8), the file's key. */
export const PARTIAL_NAME = /^\.companion-[1-9A-HJ-NP-Za-km-z]{8}-([0-9a-f]{16})\.part$/
export const SHARE_RETRY_MIN_MS = 2_000
export const SHARE_RETRY_MAX_MS = 60_000
/** The piece size for a file of `size` bytes: 1 MiB, or larger so the hashes stay within MAX_SHARE_CHUNKS. */
export function chunkSizeFor (size: number): number {
  const pieces = Math.ceil(size / SHARE_CHUNK_BYTES)
  return pieces <= MAX_SHARE_CHUNKS ? SHARE_CHUNK_BYTES : SHARE_CHUNK_BYTES * Math.ceil(pieces / MAX_SHARE_CHUNKS)
}

export type ShareState = 'queued' | 'sending' | 'paused' | 'done' | 'failed'

/** A transfer as `companion shares --json` shows it. */
export interface ShareView {
  id: string
  device: string
  direction: 'in' | 'out'
  kind: 'file' | 'text'
  name: string
  size: number
  bytes: number
  state: ShareState
  /** Where it is: the source file (out), the received file (in), null while arriving. */
  path: string | null
  reason: string | null
  /** A snippet's text (kind `text`). */
  text: string | null
  createdAt: number
}
