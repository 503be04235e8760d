/** A blob's name: the lowercase hex SHA-256 of its bytes. */
export const BLOB_HASH = /^[0-9a-f]{64}$/

/** What a blob is, as messages and requests name it. */
export interface BlobRef { sha256: string, size: number }

/** A size as a person reads it. */
export function formatBytes (n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024 * 10) / 10} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n} bytes`
}
