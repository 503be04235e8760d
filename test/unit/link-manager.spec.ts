import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { connectionStack } from '../../node/stack.ts'
import { linkManager, type LinkManager } from '../../link/index.ts'
import { until } from '../../testbed/index.ts'
import { TcpRelay } from '../../testbed/tcp-relay.ts'

type Node = Libp2p<{ links: LinkManager }>

describe('the link manager (probes on every link to a member)', function () {
  this.timeout(30_000)
  let nodes: Node[] = []
  let relays: TcpRelay[] = []

  afterEach(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    for (const relay of relays) relay.close()
    nodes = []
    relays = []
  })

  /** A device whose account holds the devices in `members` (changed by the test as pairing would). */
  async function device (members: Set<string>, memberSoon?: (id: string) => Promise<boolean>): Promise<Node> {
    const n = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      ...connectionStack(),
      // only the link manager's probes judge a link here
      connectionMonitor: { enabled: false },
      services: { links: linkManager({ isMember: (id) => members.has(id), memberSoon }) }
    })
    nodes.push(n)
    return n
  }

  const stateOf = (n: Node, other: Node): string | undefined => n.services.links.links(other.peerId.toString())[0]?.state

  it('probes a member back once it takes us for a member, after it refused our first probes', async () => {
    const aMembers = new Set<string>()
    const bMembers = new Set<string>()
    const [a, b] = [await device(aMembers), await device(bMembers)]
    aMembers.add(b.peerId.toString())
    await a.dial(b.getMultiaddrs()[0]!)
    // b does not know a yet: it refuses a's probes, so a's link never answered
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(stateOf(a, b), 'probing')
    // pairing reaches b: it starts probing a
    bMembers.add(a.peerId.toString())
    b.services.links.refresh(a.peerId.toString())
    await until('a ranks its link to b', 3_000, async () => stateOf(a, b) === 'active')
    assert.equal(stateOf(b, a), 'active')
  })

  it('cuts a link that never answered once it has been silent too long (a path that died as it opened)', async () => {
    const aMembers = new Set<string>()
    const [a, b] = [await device(aMembers), await device(new Set())]
    const { relay, address } = await TcpRelay.before(b)
    relays.push(relay)
    const conn = await a.dial(address)
    await until('b has the connection too', 2_000, async () => b.getConnections(a.peerId).length > 0, 10)
    relay.freeze()
    const frozeAt = Date.now()
    aMembers.add(b.peerId.toString())
    a.services.links.refresh(b.peerId.toString())
    await until('the silent link is cut', 15_000, async () => conn.status !== 'open')
    const afterMs = Date.now() - frozeAt
    // not before the other side could have answered (it may wait 5 s for our profile)
    assert.ok(afterMs >= 5_000, `cut after ${afterMs} ms`)
    assert.equal(a.getConnections(b.peerId).length, 0)
  })

  it('keeps a new link while the other side waits for our profile, and ranks it once answered', async () => {
    const aMembers = new Set<string>()
    const bMembers = new Set<string>()
    // b learns that a is a member 4 s after a's first probe arrives (its profile was slow to come)
    const memberSoon = async (id: string): Promise<boolean> => {
      await new Promise(resolve => setTimeout(resolve, 4_000))
      bMembers.add(id)
      return true
    }
    const [a, b] = [await device(aMembers), await device(bMembers, memberSoon)]
    const conn = await a.dial(b.getMultiaddrs()[0]!)
    aMembers.add(b.peerId.toString())
    a.services.links.refresh(b.peerId.toString())
    await until('a ranks its link to b', 10_000, async () => stateOf(a, b) === 'active')
    assert.equal(conn.status, 'open')
  })
})
