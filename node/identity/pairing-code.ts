import { randomInt } from 'node:crypto'
import { PAIR_CODE_DIGITS } from './constants.ts'

/**
 * The code the joining device shows and the user types on the member. It is the CPace
 * password: never sent, only proven (1 in a million per attempt, and attempts are limited).
 */
export function newPairingCode (): string {
  return String(randomInt(0, 10 ** PAIR_CODE_DIGITS)).padStart(PAIR_CODE_DIGITS, '0')
}

export function isCode (text: unknown): text is string {
  return typeof text === 'string' && new RegExp(`^\\d{${PAIR_CODE_DIGITS}}$`).test(text)
}
