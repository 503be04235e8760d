/** What `+CMS ERROR: n` means (3GPP TS 27.005 §3.2.5, and the RP causes of TS 24.011 below 128). */
const CMS: Record<number, string> = {
  1: 'unassigned number', 8: 'operator determined barring', 10: 'call barred', 21: 'the network rejected the message',
  27: 'destination out of service', 28: 'unidentified subscriber', 29: 'facility rejected', 30: 'unknown subscriber',
  38: 'network out of order', 41: 'temporary network failure', 42: 'network congestion', 47: 'network resources unavailable',
  50: 'facility not subscribed', 69: 'facility not implemented', 81: 'invalid message reference', 95: 'invalid message',
  96: 'invalid mandatory information', 97: 'message type non-existent', 98: 'message not compatible', 111: 'protocol error',
  127: 'interworking error', 300: 'modem failure', 301: 'SMS service of the modem reserved', 302: 'operation not allowed',
  303: 'operation not supported', 304: 'invalid PDU mode parameter', 310: 'no SIM inserted', 311: 'the SIM needs its PIN',
  312: 'the SIM needs the PH-SIM PIN', 313: 'SIM failure', 314: 'SIM busy', 315: 'wrong SIM', 316: 'the SIM needs its PUK',
  320: 'modem memory failure', 321: 'invalid memory index', 322: 'modem memory full', 330: 'SMS centre address unknown',
  331: 'no network service', 332: 'network timeout', 500: 'unknown modem error'
}

/** Errors after which the message certainly did not leave the modem (safe to send again later). */
const NOT_SENT = new Set([302, 303, 304, 310, 311, 312, 313, 314, 315, 316, 320, 322, 330, 331])

export function cmsReason (code: number): string {
  return `${CMS[code] ?? 'modem error'} (+CMS ERROR: ${code})`
}

export function cmsNotSent (code: number): boolean {
  return NOT_SENT.has(code)
}

/** The modem answered a command with an error (or not at all). */
export class AtCommandError extends Error {
  override readonly name = 'AtCommandError'
  /** `+CMS ERROR` / `+CME ERROR` number, when the modem gave one. */
  readonly code?: number
  readonly kind: 'cms' | 'cme' | 'error' | 'timeout' | 'closed'

  constructor (message: string, kind: AtCommandError['kind'], code?: number) {
    super(message)
    this.kind = kind
    if (code != null) this.code = code
  }
}
