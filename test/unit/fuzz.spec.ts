import assert from 'node:assert/strict'
import { seededRandom } from '../../testbed/sms-events.ts'
import { tempDir } from '../../testbed/index.ts'
import { fuzzTarget } from '../fuzz/harness.ts'
import { ALL_TARGETS as TARGETS } from '../fuzz/all-targets.ts'

/** A slice of `npm run fuzz`, so the targets stay alive in CI; the full runs are in the README. */
const SLICE = 2_000
const SEED = 20261201

describe('fuzzing (a slice of npm run fuzz)', function () {
  this.timeout(120_000)
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  for (const target of TARGETS) {
    it(`${target.name}: ${SLICE} mutated inputs, every one taken or refused with a clear error, memory bounded`, async () => {
      const result = await fuzzTarget(target, seededRandom(SEED), SLICE, tmp.path)
      assert.ok(!('finding' in result), 'finding' in result ? `${result.finding} (npm run fuzz -- --target ${target.name} --seed ${SEED} --inputs ${SLICE})` : '')
      assert.equal(result.stats.inputs, SLICE)
      assert.ok(result.stats.accepted > 0 && result.stats.refused > 0, `the mutations reach both outcomes: ${JSON.stringify(result.stats)}`)
    })
  }
})
