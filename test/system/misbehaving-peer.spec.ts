import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import * as varint from 'uint8-varint'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PROFILE_PROTOCOL } from '../../node/identity/constants.ts'
import { sealCertificate } from '../../node/identity/records.ts'
import { Device, eventually, tempDir, type DeviceRow, until } from '../../testbed/index.ts'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

function frame (payload: Uint8Array): Uint8Array {
  const len = varint.encode(payload.byteLength)
  const out = new Uint8Array(len.byteLength + payload.byteLength)
  out.set(len)
  out.set(payload, len.byteLength)
  return out
}

describe('a peer that misbehaves', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let device: Device
  let address: string
  let rogue: Libp2p

  before(async () => {
    device = new Device({ dataDir: join(tmp.path, 'victim'), name: 'victim', args: LOOPBACK })
    await device.start()
    address = (await device.json<{ addresses: string[] }>('status')).addresses[0] ?? ''
    // a real libp2p peer on loopback that speaks our protocol badly
    rogue = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
  })

  after(async () => {
    await rogue?.stop()
    await device.stop()
    tmp.cleanup()
  })

  const garbage: Array<[string, () => Promise<Uint8Array>]> = [
    ['bytes that are not a signed record', async () => frame(new Uint8Array([0xff, 0xfe, 0x00, 0x01]))],
    ['JSON instead of a certificate', async () => frame(new TextEncoder().encode('{"account":"x"}'))],
    ['a certificate for another device', async () => {
      const account = await generateKeyPair('Ed25519')
      const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const cert = await sealCertificate({ v: 1, account: peerIdFromPrivateKey(account).toString(), device: other, issuer: other, issuedAt: Date.now() }, account)
      return frame(cert)
    }],
    ['a certificate signed by someone else than its account', async () => {
      const forger = await generateKeyPair('Ed25519')
      const me = rogue.peerId.toString()
      const cert = await sealCertificate({ v: 1, account: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(), device: me, issuer: me, issuedAt: Date.now() }, forger)
      return frame(cert)
    }],
    ['a length prefix of a megabyte', async () => varint.encode(1 << 20)]
  ]

  for (const [what, bytes] of garbage) {
    it(`is disconnected when it sends ${what}, and the daemon keeps running`, async () => {
      const conn = await rogue.dial(multiaddr(address))
      const stream = await conn.newStream(PROFILE_PROTOCOL)
      stream.send(await bytes())
      await until('the daemon closes the connection', 5_000, async () => conn.status !== 'open')
      const rows = await device.json<DeviceRow[]>('devices')
      assert.ok(!rows.some(r => r.id === rogue.peerId.toString()), 'a peer that never showed a valid profile is not listed')
      assert.equal((await device.json<{ id: string }>('status')).id, device.id)
    })
  }

  it('shrugs off raw TCP garbage on its libp2p port', async () => {
    const m = /\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(address)
    assert.ok(m?.[1] != null && m[2] != null)
    await new Promise<void>((resolve) => {
      const sock = connect(Number(m[2]), m[1], () => { sock.end(Buffer.alloc(4096, 0xab)) })
      sock.on('close', () => { resolve() })
      sock.on('error', () => { resolve() })
      sock.resume()
    })
    assert.equal((await device.json<{ id: string }>('status')).id, device.id)
  })

  it('still serves a well-behaved device afterwards, and tells event subscribers', async () => {
    const events = device.api.events(['device'], AbortSignal.timeout(20_000))
    const first = events.next()
    const friend = new Device({ dataDir: join(tmp.path, 'friend'), name: 'friend', args: [...LOOPBACK, '--bootstrap', address] })
    try {
      await friend.start()
      const seen = await first
      assert.equal(seen.done, false)
      assert.equal(seen.value?.type, 'device')
      assert.equal((seen.value?.data as { id: string }).id, friend.id)
      await eventually('friend listed online with its name', 5_000, async () => {
        const row = (await device.json<DeviceRow[]>('devices')).find(r => r.id === friend.id)
        return row?.online === true && row.name === 'friend' ? row : undefined
      })
    } finally {
      await events.return(undefined)
      await friend.stop()
    }
  })
})
