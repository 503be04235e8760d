import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import type { PeerId, Stream } from '@libp2p/interface'
import { tempDir, until } from '../../testbed/index.ts'
import { smsDevice, type TestSmsDevice } from '../../testbed/sms-store.ts'
import { BlobStore } from '../../blobs/blob-store.ts'
import { BlobMismatchError, BlobTooLargeError } from '../../blobs/errors.ts'
import { BlobPush } from '../../node/blob-push.ts'
import { AccountStore } from '../../node/identity/account.ts'
import { NumberClaimError } from '../../node/errors.ts'
import { Attachments, MAX_PENDING_PER_ACCOUNT } from '../../sms/attachments.ts'
import { MAX_ATTACHMENT_BYTES, safeName } from '../../sms/attachment-shape.ts'
import { BlobChannel } from '../../blobs/blob-channel.ts'
import { checkEvent } from '../../sms/signed-events.ts'
import { InvalidSmsError } from '../../sms/errors.ts'
import { NetworkTexts, NotCarriedError } from '../../sms/network-texts.ts'
import { SmsClient } from '../../sms/client.ts'
import { prepared } from '../../sms/materialize.ts'
import { getMessage } from '../../sms/views.ts'

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
async function * chunks (bytes: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size)
}

describe('attachments: files stored by their hash, pushed to another account, resumed', function () {
  this.timeout(60_000)
  const tmp = tempDir()
  let n = 0
  after(() => { tmp.cleanup() })
  const store = async (): Promise<BlobStore> => { const s = new BlobStore(join(tmp.path, `blobs-${n++}`)); await s.init(); return s }

  it('stores a file under the SHA-256 of its bytes, owner-only, and nothing of one over the limit', async () => {
    const blobs = await store()
    const bytes = randomBytes(300_000)
    const ref = await blobs.put(chunks(bytes), MAX_ATTACHMENT_BYTES)
    assert.deepEqual(ref, { sha256: sha(bytes), size: bytes.byteLength })
    assert.deepEqual(readFileSync(blobs.path(ref.sha256)), bytes)
    assert.equal(statSync(blobs.path(ref.sha256)).mode & 0o777, 0o600)
    await assert.rejects(blobs.put(chunks(randomBytes(2_000)), 1_000), BlobTooLargeError)
    assert.deepEqual((await blobs.list()).map(b => b.sha256), [ref.sha256], 'no trace of the refused one')
  })

  it('goes on from the bytes that arrived, and drops bytes that are not the file\'s', async () => {
    const blobs = await store()
    const bytes = randomBytes(200_000)
    const ref = { sha256: sha(bytes), size: bytes.byteLength }
    assert.equal(await blobs.append(ref, 0, chunks(bytes.subarray(0, 70_000))), false)
    assert.equal(await blobs.received(ref.sha256), 70_000)
    await assert.rejects(blobs.append(ref, 0, chunks(bytes)), BlobMismatchError, 'an offset that is not what is there')
    assert.equal(await blobs.append(ref, 70_000, chunks(bytes.subarray(70_000))), true)
    assert.ok(blobs.has(ref.sha256))
    // a liar's bytes never become a file of that name
    const other = { sha256: sha(randomBytes(10)), size: 1_000 }
    await assert.rejects(blobs.append(other, 0, chunks(randomBytes(1_000))), /not those of/)
    assert.equal(blobs.has(other.sha256), false)
    assert.equal(await blobs.received(other.sha256), 0, 'dropped: the next try starts over')
    await assert.rejects(blobs.append({ sha256: sha(randomBytes(8)), size: 10 }, 0, chunks(randomBytes(20))), /more than the 10 bytes/)
  })

  it('names files plainly: no directories, no control characters, no dot-names', () => {
    assert.equal(safeName('../../.bashrc'), '.._.._.bashrc')
    assert.equal(safeName('/etc/passwd'), '_etc_passwd')
    assert.equal(safeName('a\u0000b\nc.png'), 'a_b_c.png')
    assert.equal(safeName('..'), '_')
    assert.equal(safeName('   '), 'file')
  })

  it('takes attachments only on texts that can carry them, in exactly their shape', () => {
    const author = peerIdFromPrivateKey(fixedKey).toString()
    const file = { sha256: 'a'.repeat(64), size: 10, name: 'p.png', type: 'image/png' }
    const out = { type: 'message', id: 'with-file-1', direction: 'out', from: null, to: ['+15550100002'], body: 'look', author, createdAt: 1, attachments: [file] }
    assert.deepEqual((checkEvent(out) as { attachments?: unknown }).attachments, [file])
    assert.throws(() => checkEvent({ ...out, direction: 'in', from: '+15550100002', via: author }), /attachments on a text by SMS/)
    assert.deepEqual((checkEvent({ ...out, direction: 'in', from: '+15550100002', via: author, route: 'network' }) as { attachments?: unknown }).attachments, [file])
    for (const bad of [[], [{ ...file, name: '../x' }], [{ ...file, size: MAX_ATTACHMENT_BYTES + 1 }], [{ ...file, sha256: 'xyz' }], [{ ...file, type: 'image/png"><script>' }], Array(11).fill(file)]) {
      assert.throws(() => checkEvent({ ...out, attachments: bad }), /invalid event/)
    }
  })

  describe('pushed to another account\'s device', () => {
    async function account (name: string): Promise<AccountStore & { device: PeerId }> {
      const dir = join(tmp.path, `${name}-${n++}`)
      mkdirSync(dir, { recursive: true })
      const key = await generateKeyPair('Ed25519')
      return Object.assign(await AccountStore.open(dir, key), { device: peerIdFromPrivateKey(key) })
    }

    /** Ana's device pushing to Ben's: real stores, Ben's SMS log holding (or not) a binding of Ana's account. */
    async function pair (bound: boolean): Promise<{ push: (bytes: Uint8Array, signal?: AbortSignal) => Promise<void>, ana: BlobStore, ben: BlobStore, benFiles: Attachments, benLog: TestSmsDevice, offsets: number[], cutAfterReading: (bytes: number) => void }> {
      const anaAccount = await account('ana')
      const benAccount = await account('ben')
      const ana = await store()
      const ben = await store()
      const benLog = await smsDevice(tmp.path, `ben-log-${n++}`)
      if (bound) await benLog.store.write(tx => { tx.append({ type: 'binding', number: '+15550100001', account: anaAccount.id, at: Date.now() }) })
      const benFiles = new Attachments({ store: benLog.store, blobs: ben, channel: undefined as unknown as BlobChannel, reachable: () => [], log: logger('test') })
      const offsets: number[] = []
      const open: Stream[] = []
      const receiver = new BlobPush({ dialProtocol: unusedDial, handle: async () => {}, unhandle: async () => {} }, {
        account: benAccount,
        store: () => ben,
        admit: async (sender, blob) => { await benFiles.admitPush(sender.account, blob).catch((err: Error) => { throw err instanceof InvalidSmsError ? new NumberClaimError(err.message) : err }) },
        log: logger('test')
      })
      const anaDevice = anaAccount.device
      const pusher = new BlobPush({
        dialProtocol: async () => {
          const [outbound, inbound] = await streamPair()
          open.push(inbound as Stream)
          void receiver.serve(inbound as Stream, anaDevice.toString())
          return outbound as Stream
        },
        handle: async () => {},
        unhandle: async () => {}
      }, {
        account: anaAccount,
        store: () => new Proxy(ana, { get: (target, key) => key === 'read' ? (sha256: string, offset: number) => { offsets.push(offset); return cutting(target.read(sha256, offset), sha256) } : (target as unknown as Record<string | symbol, unknown>)[key] }),
        admit: async () => {},
        log: logger('test')
      })
      const push = async (bytes: Uint8Array, signal = AbortSignal.timeout(20_000)): Promise<void> => {
        const ref = await ana.put(chunks(bytes), MAX_ATTACHMENT_BYTES)
        await pusher.push(benAccount.device, ref, signal)
      }
      // the link dies: both ends of every stream
      const cut = (): void => { for (const s of open.splice(0)) s.abort(new Error('the link died')) }
      /**
       * Once `cutAfter` bytes of a push were read and some arrived, the link dies before more is
       * read: the cut lands in the middle however fast the machine is.
       */
      let cutAfter: number | undefined
      async function * cutting (source: AsyncIterable<Uint8Array | Buffer>, sha256: string): AsyncGenerator<Uint8Array | Buffer> {
        let read = 0
        for await (const chunk of source) {
          yield chunk
          read += chunk.byteLength
          if (cutAfter != null && read >= cutAfter) {
            cutAfter = undefined
            await until('a part arrived', 10_000, async () => await ben.received(sha256) > 0)
            cut()
          }
        }
      }
      const cutAfterReading = (bytes: number): void => { cutAfter = bytes }
      return { push, ana, ben, benFiles, benLog, offsets, cutAfterReading }
    }

    it('arrives whole, and a push cut in the middle goes on from what arrived, not from zero', async () => {
      const { push, ben, offsets, cutAfterReading } = await pair(true)
      const bytes = randomBytes(6 * 1024 * 1024)
      cutAfterReading(1024 * 1024)
      await assert.rejects(push(bytes))
      await new Promise(resolve => setTimeout(resolve, 100))
      const arrived = await ben.received(sha(bytes))
      assert.ok(arrived > 0 && arrived < bytes.byteLength, `${arrived} bytes kept`)
      await push(bytes)
      assert.deepEqual(readFileSync(ben.path(sha(bytes))), bytes)
      assert.equal(offsets[0], 0)
      assert.equal(offsets[1], arrived, 'the second push began where the first ended')
      // pushed again (its text carried again): nothing is sent
      await push(bytes)
      assert.equal(offsets.length, 2, 'no bytes read for the third push')
    })

    it('is refused from an account not bound to a number here, and beyond an account\'s share of waiting files', async () => {
      const stranger = await pair(false)
      await assert.rejects(stranger.push(randomBytes(1_000)), /your number is not verified here/)
      assert.deepEqual(await stranger.ben.list(), [], 'nothing kept')
      const { benFiles, benLog } = await pair(true)
      const account = peerIdFromPrivateKey(fixedKey).toString()
      await benLog.store.write(tx => { tx.append({ type: 'binding', number: '+15550100009', account, at: Date.now() }) })
      for (let i = 0; i < MAX_PENDING_PER_ACCOUNT / MAX_ATTACHMENT_BYTES; i++) await benFiles.admitPush(account, { sha256: String(i).padStart(64, '0'), size: MAX_ATTACHMENT_BYTES })
      await assert.rejects(benFiles.admitPush(account, { sha256: 'f'.repeat(64), size: 1 }), /too many files from your account/)
    })
  })

  describe('a text that carries files', () => {
    const ANA = '+15550100001'
    const BEN = '+15550100002'
    const ANA_ACCOUNT = '12D3KooWB13Eqjj5kmNvrh2YkquHUsFeKvAhnASkUha9zhZzUhQs'

    it('is refused until its files are here, and stored with them once they are', async () => {
      const ben = await smsDevice(tmp.path, `ben-${n++}`)
      await ben.store.write(tx => { tx.append({ type: 'binding', number: ANA, account: ANA_ACCOUNT, at: Date.now() }) })
      const here = new Set<string>()
      const network = new NetworkTexts({ store: ben.store, ownNumber: () => BEN, carry: async () => {}, deny: () => [], hasBlob: (h) => here.has(h), rate: 30, log: logger('test') })
      const file = { sha256: 'b'.repeat(64), size: 5, name: 'note.txt', type: 'text/plain' }
      const text = { id: 'text-with-file', from: ANA, to: BEN, body: 'see the file', createdAt: Date.now(), account: ANA_ACCOUNT, attachments: [file] }
      await assert.rejects(network.receive(text), /the file note\.txt has not arrived here/)
      assert.equal(prepared(ben.store.db, 'SELECT COUNT(*) AS n FROM messages').get()?.n, 0)
      here.add(file.sha256)
      await network.receive(text)
      const stored = prepared(ben.store.db, 'SELECT id FROM messages').get() as { id: string }
      assert.deepEqual(getMessage(ben.store.db, stored.id, () => true)?.attachments, [{ ...file, here: true }])
    })

    it('is carried again when its files could not be pushed (never by SMS: it cannot carry them), and fails when refused', async () => {
      const ana = await smsDevice(tmp.path, `ana-${n++}`)
      await ana.store.write(tx => { tx.append({ type: 'binding', number: BEN, account: ANA_ACCOUNT, at: Date.now() }) })
      let attempts = 0
      let refuse = false
      let fallbacks = 0
      const network = new NetworkTexts({
        store: ana.store,
        ownNumber: () => ANA,
        carry: async () => { attempts++; throw new NotCarriedError(refuse ? 'refused' : 'the link died while the file went', false, refuse) },
        deny: () => [],
        hasBlob: () => true,
        rate: 30,
        log: logger('test')
      })
      network.onFallback = () => { fallbacks++ }
      const client = new SmsClient({ store: ana.store, candidates: () => [], log: logger('test') })
      const { id } = await client.sendOverNetwork([BEN], 'a picture', 'network-only', [{ sha256: 'c'.repeat(64), size: 9, name: 'p.png', type: 'image/png' }])
      network.kick()
      await until('tried', 5_000, () => attempts >= 1)
      network.kick()
      await until('tried again', 5_000, () => attempts >= 2)
      assert.equal(getMessage(ana.store.db, id)?.status, 'pending', 'still to be carried')
      refuse = true
      network.kick()
      await until('failed', 5_000, () => getMessage(ana.store.db, id)?.status === 'failed')
      assert.equal(fallbacks, 0, 'never handed to a phone')
      network.stop()
    })
  })
})

const unusedDial = async (): Promise<never> => { throw new Error('not used') }
/** An author's id for events checked but never signed. */
const fixedKey = await generateKeyPair('Ed25519')
