import type { Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { NumberClaimError, type NumberClaim, type NumberClaims } from '../node/index.ts'
import { answerOf, askMac, normalizeNumber, sameMac, type NumberChecks } from '../sms/index.ts'
import { NumberNotClaimedError, VerificationFailedError } from './errors.ts'

/** How long the claimants are looked for in the DHT. */
const LOOKUP_MS = 15_000
/** How long a claimant is asked for the proof (the code SMS may take a while to arrive). */
const PROOF_WAIT_MS = 90_000
const PROOF_RETRY_MS = 2_000

/** Lines of `POST /v1/numbers/verify` as the daemon produces them. */
export type VerifyStep = { event: 'claimed', accounts: number } | { event: 'code-sent', from: string }

export interface NumberVerificationInit {
  claims: NumberClaims
  checks: NumberChecks
  /** This device's account id. */
  account(): string
  log: Logger
}

/**
 * Verify that a number belongs to another companion account: find who claims it (DHT),
 * text it a code from a phone of this account, ask each claimant to prove it got the code;
 * the one that does is bound to the number for this whole account (and binds our number to
 * our account on its side, the same SMS having come from it).
 */
export class NumberVerification {
  private readonly init: NumberVerificationInit

  constructor (init: NumberVerificationInit) {
    this.init = init
  }

  async verify (input: string, onStep: (step: VerifyStep) => void, signal: AbortSignal): Promise<{ number: string, account: string }> {
    const number = normalizeNumber(input)
    const claims = await this.init.claims.claimants(number, AbortSignal.any([signal, AbortSignal.timeout(LOOKUP_MS)])).catch((err: Error) => {
      if (signal.aborted) throw err
      this.init.log('looking for claimants of %s ended - %s', number, err.message)
      return []
    })
    if (claims.length === 0) throw new NumberNotClaimedError(`no one on companion-link claims ${number} (or their phone is not reachable now)`)
    onStep({ event: 'claimed', accounts: new Set(claims.map(c => c.account)).size })
    const { code, from } = await this.init.checks.sendCode(number, signal)
    onStep({ event: 'code-sent', from })
    const own = this.init.account()
    const mac = askMac(code, number, from, own)
    // every claimant at once: one that never got the code (it claims a number not its own) holds up no other
    const done = new AbortController()
    const asked = AbortSignal.any([signal, done.signal])
    const proven = await Promise.any(claims.map(async claim => {
      if (!await this.proves(claim, code, { number, from, mac }, own, asked)) throw new VerificationFailedError(`${claim.account} did not prove it`)
      return claim
    })).catch(() => undefined).finally(() => { done.abort() })
    if (proven != null) {
      await this.init.checks.bind(number, proven.account, proven.epoch)
      return { number, account: proven.account }
    }
    throw new VerificationFailedError(`no claimant of ${number} proved it got the code texted to it: the number is not bound`)
  }

  /** Whether the claimant answers what only a receiver of the code can; asked again while the code has not arrived. */
  private async proves (claim: NumberClaim, code: string, request: { number: string, from: string, mac: string }, own: string, signal: AbortSignal): Promise<boolean> {
    const expected = answerOf(code, request.number, request.from, own, claim.account)
    const deadline = Date.now() + PROOF_WAIT_MS
    while (Date.now() < deadline && !signal.aborted) {
      try {
        const answer = await this.init.claims.askProof(claim, request, peerIdFromString(claim.device), signal)
        return sameMac(answer, expected)
      } catch (err) {
        // not arrived yet: ask again; anything else ends this claimant
        if (!(err instanceof NumberClaimError && /has arrived here/.test(err.message))) {
          this.init.log('%s (account %s) did not prove %s - %s', claim.device, claim.account, request.number, (err as Error).message)
          return false
        }
      }
      await new Promise(resolve => setTimeout(resolve, PROOF_RETRY_MS))
    }
    return false
  }
}

