const decoder = new TextDecoder('utf-8', { fatal: true })

/** The JSON object in `bytes` (strict UTF-8); undefined for anything else (the caller names the violation). */
export function jsonObject (bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(decoder.decode(bytes)) as unknown
    if (value != null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {}
  return undefined
}
