import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logger } from '@libp2p/logger'
import { ABANDONED_PARTIAL_MS } from '../../share/constants.ts'
import { ShareReceiver } from '../../share/receiver.ts'
import { ShareStore } from '../../share/share-store.ts'

const SENDER = '12D3KooWHvUo1FXbATQhamDct4FAZnqrGsvLqg3JzCgz1angnXoY'
const DAY = 24 * 60 * 60 * 1000

describe('abandoned partial shares', () => {
  let dir: string
  let store: ShareStore

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'share-sweep-'))
    store = new ShareStore(join(dir, 'shares.db'))
  })

  afterEach(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('are deleted with their piece hashes after a week untouched; fresh ones and the person\'s own files stay', async () => {
    const downloads = join(dir, 'Downloads')
    const receiver = new ShareReceiver({ store, downloads, maxBytes: 1e9, may: () => true, changed: () => {}, log: logger('test') })
    assert.equal(await receiver.sweep(), 0, 'no downloads directory yet: nothing to do')
    mkdirSync(downloads)
    const now = Date.now()
    const file = (name: string, ageMs: number): string => {
      const path = join(downloads, name)
      writeFileSync(path, 'some bytes')
      utimesSync(path, (now - ageMs) / 1000, (now - ageMs) / 1000)
      return path
    }
    const stale = file(`.companion-${SENDER.slice(-8)}-00112233445566aa.part`, ABANDONED_PARTIAL_MS + DAY)
    const fresh = file(`.companion-${SENDER.slice(-8)}-00112233445566bb.part`, ABANDONED_PARTIAL_MS - DAY)
    const own = file('.companion-notes.part', 30 * DAY)
    const photo = file('holiday.jpg', 400 * DAY)
    store.addPiece(SENDER, '00112233445566aa', 0, 'a'.repeat(64))
    store.addPiece(SENDER, '00112233445566bb', 0, 'b'.repeat(64))

    assert.equal(await receiver.sweep(now), 1)
    assert.equal(existsSync(stale), false)
    assert.deepEqual(store.pieces(SENDER, '00112233445566aa'), [])
    assert.ok(existsSync(fresh) && existsSync(own) && existsSync(photo))
    assert.deepEqual(store.pieces(SENDER, '00112233445566bb'), ['b'.repeat(64)])
  })
})
