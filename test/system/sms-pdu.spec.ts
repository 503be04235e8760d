import assert from 'node:assert/strict'
import { decodePdu, encodeSubmit, type DeliverPdu, type SubmitPduDecoded } from '../../sms/codec/pdu.ts'
import { planMessage } from '../../sms/codec/plan.ts'
import { Reassembler, type Reassembled } from '../../sms/codec/reassembly.ts'
import { gammu } from '../../testbed/gammu.ts'

interface GammuDecoded { type: string, number: string, text: string, coding: string, parts: number, part: number, ref: number, status: number, reference: number, error?: string }

const GSM_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤%&\'()*+-/:;<=>¡ÄÖÑÜ§¿äöñüà\n'
const EXT_CHARS = '^{}\\[~]|€'
const OTHER = 'ąčęłńśźżçâêîôûœ漢字Ж'
const EMOJI = ['😀', '👍🏽', '🇩🇪', '🎉']

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random (seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x7fffffff
  }
}

function randomText (next: () => number): string {
  const length = 1 + Math.floor(next() * 420)
  const kind = next()
  let text = ''
  while ([...text].length < length) {
    const r = next()
    if (r < 0.85 || kind < 0.5) text += GSM_CHARS[Math.floor(next() * GSM_CHARS.length)] ?? 'a'
    else if (r < 0.92) text += EXT_CHARS[Math.floor(next() * EXT_CHARS.length)] ?? '€'
    else if (r < 0.97 && kind > 0.75) text += [...OTHER][Math.floor(next() * [...OTHER].length)] ?? 'ą'
    else if (kind > 0.75) text += EMOJI[Math.floor(next() * EMOJI.length)] ?? '😀'
  }
  return text
}

const CASES: Array<[string, string]> = [
  ['plain', 'Running late, there in 10'],
  ['134 GSM characters in one part (node-pdu splits these)', 'x'.repeat(134)],
  ['é and € stay GSM-7 (node-pdu forces UCS-2)', 'Café au lait: 3,50 €'],
  ['every extension character', 'a^b{c}d\\e[f~g]h|i€j\fk'],
  ['160 septets: one part', 'a'.repeat(160)],
  ['161 septets: two parts', 'a'.repeat(161)],
  ['153 × 2 septets: two parts', 'b'.repeat(306)],
  ['307 septets: three parts', 'b'.repeat(307)],
  ['459 septets: three parts', 'c'.repeat(459)],
  ['an extension character on the part boundary is not split', 'd'.repeat(152) + '€' + 'd'.repeat(20)],
  ['80 euros: 160 septets', '€'.repeat(80)],
  ['70 UCS-2 units: one part', 'ą'.repeat(70)],
  ['71 UCS-2 units: two parts', 'ą'.repeat(71)],
  ['134 UCS-2 units: two parts', 'ż'.repeat(134)],
  ['135 UCS-2 units: three parts', 'ż'.repeat(135)],
  ['an emoji on the part boundary is not split', 'ą'.repeat(66) + '😀' + 'ą'.repeat(10)],
  ['emoji only', '😀👍🏽🇩🇪🎉'.repeat(10)],
  ['Cyrillic and CJK', 'Привет, 漢字 and ASCII'],
  ['newlines and CR', 'line 1\nline 2\r\nline 3']
]

describe('SMS PDU codec, checked against libGammu', function () {
  this.timeout(60_000)

  it('plans parts and encoding as the standard says: GSM-7 with the extension table, 160/153 septets, 70/67 units', () => {
    assert.deepEqual(planMessage('x'.repeat(134)), { encoding: 'gsm7', parts: ['x'.repeat(134)] })
    assert.equal(planMessage('Café €').encoding, 'gsm7')
    assert.equal(planMessage('a'.repeat(161)).parts.length, 2)
    assert.equal(planMessage('€'.repeat(81)).parts.length, 2)
    assert.deepEqual(planMessage('d'.repeat(152) + '€' + 'd'.repeat(10)).parts, ['d'.repeat(152), '€' + 'd'.repeat(10)], 'ESC and its code stay together')
    assert.equal(planMessage('ą'.repeat(71)).encoding, 'ucs2')
    const parts = planMessage('ą'.repeat(66) + '😀' + 'ą'.repeat(5)).parts
    assert.deepEqual(parts, ['ą'.repeat(66), '😀ąąąąą'], 'the surrogate pair moves whole into the next part')
  })

  // libGammu mishandles "~" in UCS-2 texts (it writes U+0001, and python-gammu reads it as
  // "~~" and cuts the text at its unit count; checked for every ASCII and extension character):
  // UCS-2 texts here do without it
  const withoutTilde = (text: string): string => planMessage(text).encoding === 'ucs2' ? text.replaceAll('~', '-') : text
  const texts = [...CASES, ...Array.from({ length: 150 }, (_, i) => [`random ${i}`, withoutTilde(randomText(random(i + 1)))] as [string, string])]

  it('writes SMS-SUBMIT PDUs that libGammu reads back to the same text, parts and encoding', () => {
    const ours = texts.map(([, text]) => ({ text, plan: planMessage(text), pdus: encodeSubmit('+15550102030', text, { statusReport: true, concatRef: 42 }) }))
    const decoded = gammu<GammuDecoded>(ours.flatMap(o => o.pdus.map(p => ({ op: 'decode', hex: p.hex }))))
    const counted = gammu<{ parts: number }>(ours.map(o => ({ op: 'count', text: o.text, unicode: o.plan.encoding === 'ucs2' })))
    let at = 0
    ours.forEach((o, i) => {
      const name = texts[i]?.[0] ?? ''
      const parts = decoded.slice(at, at + o.pdus.length)
      at += o.pdus.length
      for (const [n, p] of parts.entries()) {
        assert.equal(p.error, undefined, `${name}: libGammu could not read part ${n + 1}: ${p.error ?? ''}`)
        assert.equal(p.type, 'Submit', name)
        assert.equal(p.number, '+15550102030', name)
        assert.equal(p.coding, o.plan.encoding === 'gsm7' ? 'Default_No_Compression' : 'Unicode_No_Compression', name)
        if (o.pdus.length > 1) assert.deepEqual([p.part, p.parts, p.ref], [n + 1, o.pdus.length, 42], name)
      }
      assert.equal(parts.map(p => p.text).join(''), o.text, `${name}: the text libGammu reads`)
      assert.equal(o.pdus.length, counted[i]?.parts, `${name}: libGammu's SMSCounter says ${counted[i]?.parts ?? '?'} parts`)
      // our own decoder agrees with itself
      assert.equal(o.pdus.map(p => (decodePdu(p.hex) as SubmitPduDecoded).text).join(''), o.text, name)
    })
  })

  it('reads SMS-DELIVER PDUs that libGammu writes, in one part or several', () => {
    const encoded = gammu<{ coding: string, pdus: string[], error?: string }>(texts.map(([, text]) => ({ op: 'encode', text, number: '+4915123456789' })))
    encoded.forEach((e, i) => {
      const [name, text] = texts[i] ?? ['', '']
      assert.equal(e.error, undefined, `${name}: ${e.error ?? ''}`)
      const parts = e.pdus.map(hex => decodePdu(hex) as DeliverPdu)
      for (const p of parts) {
        assert.equal(p.type, 'deliver', name)
        assert.equal(p.from, '+4915123456789', name)
        assert.equal(p.timestamp, Date.UTC(2026, 10, 23, 10, 0, 0) - localOffsetMs(), name)
      }
      if (parts.length > 1) assert.deepEqual(parts.map(p => [p.concat?.seq, p.concat?.total]), parts.map((_, n) => [n + 1, parts.length]), name)
      assert.equal(parts.map(p => p.text).join(''), text, `${name}: the text we read`)
      assert.equal(parts[0]?.encoding, e.coding === 'Default_No_Compression' ? 'gsm7' : 'ucs2', name)
    })
  })

  it('reads delivery reports (SMS-STATUS-REPORT) as libGammu does', () => {
    // TP-MR 42 to +15550102030, delivered (00) and failed permanently (0x46)
    const report = (status: string): string => '0006' + '2A' + '0B915155102030F0' + '62113201000000' + '62113201000500' + status
    const ok = decodePdu(report('00'))
    const failed = decodePdu(report('46'))
    assert.deepEqual(ok.type === 'status-report' ? [ok.reference, ok.recipient, ok.delivered, ok.final] : [], [42, '+15550102030', true, true])
    assert.deepEqual(failed.type === 'status-report' ? [failed.delivered, failed.final] : [], [false, true])
    const theirs = gammu<GammuDecoded>([{ op: 'decode', hex: report('00') }, { op: 'decode', hex: report('46') }])
    assert.deepEqual(theirs.map(t => [t.type, t.number, t.reference, t.status]), [['Status_Report', '+15550102030', 42, 0], ['Status_Report', '+15550102030', 42, 0x46]])
  })

  it('puts parts back together in any order, ignores duplicates, and delivers an incomplete message after the timeout', async () => {
    const out: Reassembled[] = []
    const duplicates: unknown[] = []
    const r = new Reassembler(m => out.push(m), { timeoutMs: 100, duplicate: (tag) => { duplicates.push(tag) } })
    const pdus = encodeSubmit('+15550102030', 'p'.repeat(153) + 'q'.repeat(153) + 'r'.repeat(10), { concatRef: 7 })
    const parts = pdus.map(p => decodePdu(p.hex) as SubmitPduDecoded).map(p => ({ from: '+4915123456789', text: p.text, timestamp: 1, ...(p.concat == null ? {} : { concat: p.concat }) }))
    const [one, two, three] = parts as [typeof parts[0], typeof parts[0], typeof parts[0]]
    for (const p of [three, one, three, two, { ...one, tag: 'again' }]) r.add(p)
    assert.deepEqual(out.map(m => [m.text.length, m.incomplete]), [[316, false]])
    assert.deepEqual(duplicates, ['again'], 'a part that comes again after its message is only reported')
    assert.equal(out[0]?.text, 'p'.repeat(153) + 'q'.repeat(153) + 'r'.repeat(10))
    // the same reference from another sender is another message; a lost middle part
    r.add({ ...one, from: '+15550100000' })
    r.add({ ...three, from: '+15550100000' })
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(out.slice(1).map(m => [m.from, m.text, m.incomplete, m.missing]), [['+15550100000', 'p'.repeat(153) + 'r'.repeat(10), true, [2]]])
  })

  it('refuses truncated and malformed PDUs with a clear error', () => {
    const good = encodeSubmit('+15550102030', 'hello')[0]?.hex ?? ''
    for (const bad of ['', 'zz', '00', good.slice(0, 10), good.slice(0, -4), '0007']) {
      assert.throws(() => decodePdu(bad), { name: 'InvalidPduError' }, bad)
    }
  })
})

/** libGammu writes the time stamp in this machine's zone without an offset. */
function localOffsetMs (): number {
  return -new Date(Date.UTC(2026, 10, 23, 10, 0, 0)).getTimezoneOffset() * 60_000
}
