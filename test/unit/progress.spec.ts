import assert from 'node:assert/strict'
import { ProgressBar } from '../../cli/progress.ts'

describe('the CLI progress bar', () => {
  it('fills to the fraction it is given, redraws one line in place, and clears it at the end', () => {
    const written: string[] = []
    const bar = new ProgressBar((text) => { written.push(text) })
    bar.draw(0.5, '8 MB of 16 MB')
    bar.draw(2, 'done')
    bar.end()
    assert.deepEqual(written, [
      `\r[${'█'.repeat(12)}${'·'.repeat(12)}] 8 MB of 16 MB\x1b[K`,
      `\r[${'█'.repeat(24)}] done\x1b[K`,
      '\r\x1b[K'
    ])
  })

  it('runs back and forth while the total is unknown, always 24 wide', () => {
    const written: string[] = []
    const bar = new ProgressBar((text) => { written.push(text) })
    for (let i = 0; i < 30; i++) bar.draw(undefined, `${i} texts read`)
    const bars = written.map(w => /\[(.*)\]/.exec(w)?.[1] ?? '')
    assert.ok(bars.every(b => [...b].length === 24 && b.includes('███')), bars.join('\n'))
    assert.notEqual(bars[0], bars[1], 'it moves')
  })
})
