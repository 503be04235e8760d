import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { Lan, sweepStaleNamespaces } from '../../testbed/netns.ts'

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map(l => l.split(' ')[0] ?? '').filter(Boolean)

describe('the LAN harness', () => {
  it('builds hosts with two links and removes every namespace it made', () => {
    const lan = Lan.create({ devices: 2, remoteDevices: 1, dualHomed: [2] })
    const made = namespaces().filter(ns => ns.startsWith(`${lan.id}-`))
    assert.equal(made.length, 5, 'bridge, router and three hosts')
    assert.deepEqual(lan.host(1).addrs, { a: '198.18.1.1', b: '198.18.2.1' })
    assert.deepEqual(lan.host(2).addrs, { a: '198.18.1.2', b: '198.18.2.2', c: '198.18.3.2' })
    assert.deepEqual(lan.host(3).addrs, { c: '198.18.3.3' })
    lan.destroy()
    assert.deepEqual(namespaces().filter(ns => ns.startsWith(`${lan.id}-`)), [])
  })

  it('sweeps namespaces left by a run that died', () => {
    // pid 2^22 + 1 is above the kernel's pid_max default: never a live process
    const stale = `cl${(1 << 22) + 1}x1-d1`
    execFileSync('ip', ['netns', 'add', stale])
    sweepStaleNamespaces()
    assert.ok(!namespaces().includes(stale))
  })
})
