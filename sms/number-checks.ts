import type { MessageView } from './view-types.ts'
import type { SmsStatus } from './constants.ts'
import { InvalidSmsError, UnknownMessageError } from './errors.ts'
import { prepared } from './materialize.ts'
import type { SmsStore } from './store.ts'
import { answerOf, listNumbers, newCode, receivedCode, verificationText } from './verification.ts'
import type { NumberView } from './view-types.ts'
import { normalizeNumber } from './codec/numbers.ts'

/** A proof request as the SMS side answers it: the asker's account is proven by the node. */
export interface CodeRequest { number: string, from: string, mac: string, asker: string, askerEpoch: number, claimant: string }

export interface NumberChecksInit {
  store: SmsStore
  send(to: string[], body: string): Promise<{ id: string }>
  waitFor(id: string, status: SmsStatus, signal: AbortSignal): Promise<MessageView>
}

/** The SMS side of number verification: the code's text out, the code's proof in, the bindings. */
export class NumberChecks {
  private readonly init: NumberChecksInit

  constructor (init: NumberChecksInit) {
    this.init = init
  }

  list (): NumberView[] {
    return listNumbers(this.init.store.db)
  }

  /** The account verified for `number`, if any. */
  accountOf (number: string): string | undefined {
    return this.list().find(n => n.number === number)?.account
  }

  /** Bind `number` to `account` for every device of this account. */
  async bind (number: string, account: string, epoch: number): Promise<void> {
    await this.init.store.write(tx => { tx.append({ type: 'binding', number, account, at: Date.now(), epoch }) })
  }

  /** Text `number` a new code through a phone of the account; once the network took it, the code and the number it came from. */
  async sendCode (number: string, signal: AbortSignal): Promise<{ code: string, from: string }> {
    const to = normalizeNumber(number)
    const code = newCode()
    const { id } = await this.init.send([to], verificationText(code))
    const sent = await this.init.waitFor(id, 'sent', signal)
    if (sent.status === 'failed' || sent.status === 'unauthorized') throw new InvalidSmsError(`the code could not be texted to ${to}: ${sent.reason ?? sent.status}`)
    if (sent.from == null) throw new InvalidSmsError('the phone that texted the code did not say its own number (its SIM does not tell it): the other side cannot bind it')
    return { code, from: sent.from }
  }

  /**
   * Prove this phone got the asker's code: the answer, once; the asker's number (which the
   * network vouched for by delivering the code from it) is bound to the asker's account here.
   */
  async answer (request: CodeRequest): Promise<string> {
    const code = receivedCode(this.init.store.db, this.init.store.self, request, Date.now())
    if (code == null) throw new UnknownMessageError(`no code from ${request.from} has arrived here (yet)`)
    await this.init.store.write(tx => {
      prepared(tx.db, 'INSERT OR IGNORE INTO used_codes (code, at) VALUES (?, ?)').run(code, Date.now())
      tx.append({ type: 'binding', number: request.from, account: request.asker, at: Date.now(), epoch: request.askerEpoch })
    })
    return answerOf(code, request.number, request.from, request.asker, request.claimant)
  }
}
