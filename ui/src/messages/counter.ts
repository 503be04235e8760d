/** What a text costs as SMS: the daemon's own splitter, so the page counts as the phone will send. */
import { charSeptets } from '../../../sms/codec/gsm7.ts'
import { MULTI_SEPTETS, MULTI_UNITS, SINGLE_SEPTETS, SINGLE_UNITS, planMessage } from '../../../sms/codec/plan.ts'

export interface SmsCount {
  parts: number
  encoding: 'GSM-7' | 'UCS-2'
  /** Characters (septets or UTF-16 units) still free in the last part. */
  left: number
}

export function countSms (text: string): SmsCount {
  const plan = planMessage(text)
  const gsm = plan.encoding === 'gsm7'
  const parts = Math.max(1, plan.parts.length)
  const last = plan.parts.at(-1) ?? ''
  const capacity = parts === 1 ? (gsm ? SINGLE_SEPTETS : SINGLE_UNITS) : (gsm ? MULTI_SEPTETS : MULTI_UNITS)
  const used = gsm ? [...last].reduce((n, c) => n + (charSeptets(c)?.length ?? 1), 0) : last.length
  return { parts, encoding: gsm ? 'GSM-7' : 'UCS-2', left: capacity - used }
}
