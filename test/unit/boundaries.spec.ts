import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome')

/**
 * Lint one file that imports `specifier`, placed in `folder` of a scratch copy of the
 * project's layout (the project's own biome.json, nothing else); returns the linter's
 * complaint, or '' when it lets it be.
 */
function lintImport (folder: string, specifier: string): string {
  const root = mkdtempSync(join(tmpdir(), 'cl-lint-'))
  try {
    copyFileSync(join(ROOT, 'biome.json'), join(root, 'biome.json'))
    mkdirSync(join(root, folder), { recursive: true })
    const file = join(root, folder, 'probe.ts')
    writeFileSync(file, `import type * as probe from '${specifier}'\nexport type Probe = typeof probe\n`)
    const res = spawnSync(BIOME, ['lint', '--colors=off', file], { cwd: root, encoding: 'utf8' })
    return res.status === 0 ? '' : (/× (.*)/.exec(res.stdout + res.stderr)?.[1] ?? `exit ${String(res.status)}`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

describe('import boundaries (checked by the linter in npm test)', function () {
  this.timeout(30_000)

  const cases: Array<[folder: string, specifier: string, allowed: boolean]> = [
    ['link', '../node/create-node.ts', false],
    ['link', '../sms/store.ts', false],
    ['link', '../daemon/daemon.ts', false],
    ['link', './session.ts', true],
    ['sms', '../link/session.ts', false],
    ['sms', '../link/index.ts', true],
    ['sms', '../daemon/daemon.ts', false],
    ['sms/backends', '../../node/identity/records.ts', true],
    ['cli', '../daemon/daemon.ts', false],
    ['cli', '../daemon/control/router.ts', false],
    ['cli', '../daemon/control/contract.ts', true],
    ['cli', '../daemon/control/http.ts', true],
    ['cli', 'libp2p', false],
    ['ui/src', '../../daemon/control/contract.ts', true],
    ['ui/src', '../../daemon/errors.ts', false],
    ['ui/src', '../../sms/codec/plan.ts', true],
    ['ui/src', '../../sms/store.ts', false],
    ['ui/src', '../../link/index.ts', false],
    ['daemon', '../node/create-node.ts', false],
    ['daemon', '../node/index.ts', true],
    ['daemon', '../sms/store.ts', false],
    ['daemon', '../sms/index.ts', true],
    ['daemon/control', '../../link/session.ts', false]
  ]

  for (const [folder, specifier, allowed] of cases) {
    it(`${allowed ? 'lets' : 'stops'} ${folder}/ import ${specifier}`, () => {
      const complaint = lintImport(folder, specifier)
      if (allowed) assert.equal(complaint, '')
      else assert.notEqual(complaint, '', 'the linter let it through')
    })
  }
})
