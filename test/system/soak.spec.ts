import assert from 'node:assert/strict'
import { runSoak } from '../../soak/soak.ts'

/**
 * Two minutes of `npm run soak` (soak/soak.ts): three real daemons on the namespaced LAN, a
 * text every 0.15 s, texts in every 3 s, reads, a share, the event streams held open, and every
 * kind of fault once or twice (link cut and flaps, kill -9 of the tablet and the phone, the tablet
 * removed, reset and paired again). Every invariant of the long run is checked; memory growth
 * is judged by the long runs only (README, Reliability).
 */
describe('soak: two minutes of use with faults', function () {
  this.timeout(10 * 60_000)

  it('ends every accepted text sent or failed with a reason, carried once, and every device holding the same messages, statuses and reads', async () => {
    const report = await runSoak({ minutes: 2, seed: 22, say: (line) => { if (process.env.SOAK_VERBOSE != null) process.stderr.write(`${line}\n`) } })
    assert.deepEqual(report.failures, [])
    assert.ok(report.texts.accepted >= 400, `${report.texts.accepted} texts accepted in two minutes`)
    assert.equal(report.texts.sent + report.texts.delivered + report.texts.failed, report.texts.accepted)
    assert.ok(report.incoming >= 30, `${report.incoming} texts in`)
    for (const [kind, n] of Object.entries(report.faults)) assert.ok(n >= 1, `fault ${kind} played ${n} times`)
    assert.ok(report.events > 0, 'the event streams carried events')
    assert.ok(report.reads > 0)
  })
})
