import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createReadStream, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Testbed, eventually, tempDir, type Device, until } from '../../testbed/index.ts'
import { pair } from '../../testbed/pairing.ts'
import { bigFile } from '../../testbed/files.ts'
import type { ShareView } from '../../share/constants.ts'

const MiB = 1024 * 1024

interface LinkRow { kind: string, active: boolean }
const activeKind = async (device: Device): Promise<string | undefined> => (await device.api.call<LinkRow[]>('GET', '/v1/links')).find(l => l.active)?.kind

async function sha256Of (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * Sharing on the namespaced LAN (issue 21): a large file across a link cut, and across a
 * restart of the receiving daemon, each arriving whole, once, and not sent again from zero.
 */
describe('sharing files on the namespaced LAN', function () {
  this.timeout(240_000)
  const tmp = tempDir()
  let bed: Testbed | undefined
  const downloads = (i: number): string => join(tmp.path, `downloads-${i}`)

  afterEach(async function () {
    await bed?.closeAfter(this.currentTest)
    bed = undefined
  })

  after(() => { tmp.cleanup() })

  async function pairedWithTwoLinks (): Promise<[Device, Device]> {
    bed = new Testbed({ devices: 2, links: 2, args: (i) => ['--interface-kind', 'eth1=wifi', '--downloads', downloads(i)] })
    const [d1, d2] = bed.devices as [Device, Device]
    for (const d of bed.devices) await d.start()
    await until('found each other', 10_000, async () => await bed!.allSeeEachOther())
    await pair(d2, d1)
    await until('two links, the wired one active', 15_000, async () => await activeKind(d1) === 'wired')
    return [d1, d2]
  }

  it('sends 200 MiB whole, once, while the active link is cut in the middle', async () => {
    const [d1, d2] = await pairedWithTwoLinks()
    const file = await bigFile(join(tmp.path, 'disk.img'), 200 * MiB)
    // a link of 400 Mbit/s: the share takes seconds, time to cut it in the middle
    for (const link of ['a', 'b'] as const) bed!.lan.limit(1, link, '400mbit')
    const sharing = d1.cli('share', file.path, '--to', d2.id, '--json')
    await until('a third arrived', 30_000, async () => ((await d2.json<ShareView[]>('shares'))[0]?.bytes ?? 0) > 60 * MiB, 100)
    bed!.lan.setLink(1, 'a', false)
    await until('the Wi-Fi link took over', 5_000, async () => await activeKind(d1) === 'wifi')
    const r = await sharing
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readdirSync(downloads(2)), ['disk.img'], 'one copy, no partial file left')
    assert.equal(await sha256Of(join(downloads(2), 'disk.img')), file.sha256)
  })

  it('goes on after the sending daemon was killed in the middle and started again, by itself', async () => {
    const [d1, d2] = await pairedWithTwoLinks()
    const size = 60 * MiB
    const file = await bigFile(join(tmp.path, 'photos.zip'), size)
    for (const link of ['a', 'b'] as const) bed!.lan.limit(1, link, '200mbit')
    const sharing = d1.cli('share', file.path, '--to', d2.id)
    await until('a third arrived', 30_000, async () => ((await d2.json<ShareView[]>('shares'))[0]?.bytes ?? 0) > 20 * MiB, 50)
    await d1.stop('SIGKILL')
    assert.notEqual((await sharing).code, 0, 'the command ends with its daemon')
    await d1.start()
    const done = await eventually('done on the receiver', 60_000, async () => (await d2.json<ShareView[]>('shares')).find(t => t.state === 'done'))
    assert.equal(done.name, 'photos.zip')
    assert.equal(await sha256Of(join(downloads(2), 'photos.zip')), file.sha256)
    assert.equal((await d1.json<ShareView[]>('shares'))[0]?.state, 'done', 'the sender knows')
  })

  it('goes on from the last verified piece after the receiving daemon was killed at about half: at most 10 % sent twice', async () => {
    const [d1, d2] = await pairedWithTwoLinks()
    const size = 100 * MiB
    const file = await bigFile(join(tmp.path, 'backup.tar'), size)
    for (const link of ['a', 'b'] as const) bed!.lan.limit(1, link, '200mbit')
    const received = (): number => bed!.lan.received(2, 'a') + bed!.lan.received(2, 'b')
    const before = received()
    const sharing = d1.cli('share', file.path, '--to', d2.id)
    await until('about half arrived', 30_000, async () => ((await d2.json<ShareView[]>('shares'))[0]?.bytes ?? 0) > 45 * MiB, 50)
    await d2.stop('SIGKILL')
    await d2.start()
    const r = await sharing
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await sha256Of(join(downloads(2), 'backup.tar')), file.sha256)
    const total = received() - before
    assert.ok(total < size * 1.1, `the receiver's links took ${(total / MiB).toFixed(1)} MiB for a file of ${size / MiB} MiB`)
  })
})
