import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../../testbed/index.ts'
import { MAX_UI_SESSIONS, MAX_UI_TOKENS, UI_SESSION_TTL_MS, UI_TOKEN_TTL_MS, UiSessions } from '../../daemon/ui/sessions.ts'
import { StaticFiles } from '../../daemon/ui/static-files.ts'

describe('web page sessions', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })
  let now = 1_000_000
  const sessions = (name: string): UiSessions => new UiSessions({ file: join(tmp.path, name), now: () => now })

  it('turns a token into a session once, and only within its lifetime', async () => {
    const s = sessions('a.json')
    const { token } = s.issueToken()
    const granted = await s.redeem(token)
    assert.ok(granted != null)
    assert.equal(s.valid(granted.session), true)
    assert.equal(await s.redeem(token), undefined, 'spent')
    const late = s.issueToken()
    now += UI_TOKEN_TTL_MS + 1
    assert.equal(await s.redeem(late.token), undefined, 'expired')
    assert.equal(s.valid(granted.session), true)
    now += UI_SESSION_TTL_MS
    assert.equal(s.valid(granted.session), false, 'sessions expire too')
  })

  it('keeps only digests on disk, 0600, and finds sessions again after a restart', async () => {
    const s = sessions('b.json')
    const granted = await s.redeem(s.issueToken().token)
    assert.ok(granted != null)
    const file = join(tmp.path, 'b.json')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(readFileSync(file, 'utf8').includes(granted.session), false, 'the secret itself is never written')
    const again = sessions('b.json')
    await again.load()
    assert.equal(again.valid(granted.session), true)
    await again.end(granted.session)
    const third = sessions('b.json')
    await third.load()
    assert.equal(third.valid(granted.session), false, 'signing out is remembered')
  })

  it('refuses empty, forged and garbage secrets', async () => {
    const s = sessions('c.json')
    for (const bad of [undefined, '', 'x', 'a'.repeat(10_000), '../../etc', '\u0000']) assert.equal(s.valid(bad), false)
    assert.equal(await s.redeem(''), undefined)
  })

  it('stays bounded: old tokens and sessions give way to new ones', async () => {
    const s = sessions('d.json')
    const tokens = Array.from({ length: MAX_UI_TOKENS + 5 }, () => s.issueToken().token)
    assert.equal(await s.redeem(tokens[0] ?? ''), undefined, 'the oldest token was dropped')
    assert.ok(await s.redeem(tokens.at(-1) ?? '') != null)
    const granted = []
    for (let i = 0; i < MAX_UI_SESSIONS + 3; i++) granted.push(await s.redeem(s.issueToken().token))
    assert.equal(s.valid(granted[0]?.session), false)
    assert.equal(s.valid(granted.at(-1)?.session), true)
    assert.ok(Object.keys(JSON.parse(readFileSync(join(tmp.path, 'd.json'), 'utf8'))).length <= MAX_UI_SESSIONS)
  })

  it('starts with no sessions from a damaged file, and without failing', async () => {
    for (const text of ['{', '[]', '{"x":"y"}', 'null', '"text"']) {
      writeFileSync(join(tmp.path, 'e.json'), text)
      const s = sessions('e.json')
      await s.load()
      assert.equal(s.valid('x'), false)
    }
  })
})

describe('the page\'s static files', () => {
  const tmp = tempDir()
  after(() => { tmp.cleanup() })

  it('serves exactly the files of the built page, by exact path', async () => {
    mkdirSync(join(tmp.path, 'assets'))
    writeFileSync(join(tmp.path, 'index.html'), '<!doctype html>')
    writeFileSync(join(tmp.path, 'assets', 'index-abc.js'), 'console.log(1)')
    writeFileSync(join(tmp.path, 'notes.txt'), 'not a page file')
    const files = await StaticFiles.load(tmp.path)
    assert.equal(files.get('/')?.type, 'text/html; charset=utf-8')
    assert.equal(files.get('/')?.immutable, false)
    assert.equal(files.get('/assets/index-abc.js')?.immutable, true)
    for (const path of ['/notes.txt', '/assets/../index.html', '/./index.html', '/ASSETS/index-abc.js', '//index.html']) assert.equal(files.get(path), undefined, path)
  })
})
