/**
 * The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), and septet
 * packing. A character of the extension table costs two septets: ESC (0x1B), then its code.
 */

/** Default alphabet, by septet value. 0x1B is the escape to the extension table. */
const DEFAULT = [
  '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
  'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u001b', 'Æ', 'æ', 'ß', 'É',
  ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
  '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
  'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
  '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à'
]

/** Extension table: septet after ESC → character. */
const EXTENSION: Record<number, string> = { 0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€' }

export const ESC = 0x1b

const TO_DEFAULT = new Map(DEFAULT.map((c, i) => [c, i]))
TO_DEFAULT.delete('\u001b')
const TO_EXTENSION = new Map(Object.entries(EXTENSION).map(([code, c]) => [c, Number(code)]))

/** The septets of one character (1 or 2), or undefined when GSM-7 cannot carry it. */
export function charSeptets (char: string): number[] | undefined {
  const plain = TO_DEFAULT.get(char)
  if (plain != null) return [plain]
  const ext = TO_EXTENSION.get(char)
  return ext == null ? undefined : [ESC, ext]
}

/** Septets of a whole text, or undefined if one character is not in the alphabet. */
export function toSeptets (text: string): number[] | undefined {
  const out: number[] = []
  for (const char of text) {
    const s = charSeptets(char)
    if (s == null) return undefined
    out.push(...s)
  }
  return out
}

/** Septets back to text; an ESC before an unknown code reads as the default-table character (23.038). */
export function fromSeptets (septets: number[]): string {
  let text = ''
  for (let i = 0; i < septets.length; i++) {
    const s = septets[i] ?? 0
    if (s === ESC) {
      const next = septets[++i]
      if (next == null) break
      text += EXTENSION[next] ?? DEFAULT[next] ?? ''
    } else {
      text += DEFAULT[s] ?? ''
    }
  }
  return text
}

/** Pack septets into octets, starting `fillBits` bits into the first octet (after a UDH). */
export function packSeptets (septets: number[], fillBits = 0): Uint8Array {
  const totalBits = fillBits + septets.length * 7
  const out = new Uint8Array(Math.ceil(totalBits / 8))
  septets.forEach((s, i) => {
    const bit = fillBits + i * 7
    const byte = bit >> 3
    const shift = bit & 7
    out[byte] = (out[byte] ?? 0) | ((s << shift) & 0xff)
    if (shift > 1) out[byte + 1] = (out[byte + 1] ?? 0) | (s >> (8 - shift))
  })
  return out
}

/** Read `count` septets from packed octets, starting `fillBits` in. */
export function unpackSeptets (octets: Uint8Array, count: number, fillBits = 0): number[] {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const bit = fillBits + i * 7
    const byte = bit >> 3
    const shift = bit & 7
    const value = ((octets[byte] ?? 0) >> shift) | ((octets[byte + 1] ?? 0) << (8 - shift))
    out.push(value & 0x7f)
  }
  return out
}
