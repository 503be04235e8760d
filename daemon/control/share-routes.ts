import { mkdir, rm } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { sanitizeName, type ShareService, type ShareView } from '../../share/index.ts'
import type { DeviceDirectory } from '../devices.ts'
import { objectBody, text } from './body.ts'
import { API, ControlError, type ShareLine } from './contract.ts'
import { bytesRoute, jsonRoute, sendFile, sendJson, streamRoute, type Route } from './router.ts'

const FINAL = new Set(['done', 'failed'])

/** `to`: device names, ids or id prefixes of the account, or `all` (every member). */
async function devicesOf (directory: DeviceDirectory, to: unknown): Promise<string[]> {
  if (!Array.isArray(to) || to.length === 0 || !to.every(t => typeof t === 'string' && t !== '' && t.length <= 200)) throw new ControlError(400, 'invalid_body', 'to must name at least one device of your account (or all)')
  const members = (await directory.list()).filter(d => d.relation === 'member')
  if (to.includes('all')) {
    if (members.length === 0) throw new ControlError(409, 'no_members', 'this device has no other devices in its account yet: pair one first (companion pair)')
    return members.map(d => d.id)
  }
  const ids: string[] = []
  for (const query of to as string[]) {
    const device = await directory.find(query)
    if (device.relation !== 'member') throw new ControlError(409, 'not_a_member', `${device.name} is not a device of your account: files go only to your own devices (pair it first: companion pair)`)
    ids.push(device.id)
  }
  return [...new Set(ids)]
}

/**
 * Sharing between the account's devices: queue files (paths the daemon reads) or a snippet
 * and follow them to the end (lines), the page's upload, the list, cancelling.
 */
export function shareRoutes (shares: ShareService, directory: DeviceDirectory, dataDir: string): Route[] {
  /** Lines for `transfers` until every one is done or failed (they go on if the client leaves). */
  const follow = (transfers: ShareView[], res: import('node:http').ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
    const line = (value: ShareLine): void => { if (!res.writableEnded) res.write(JSON.stringify(value) + '\n') }
    const keys = new Map(transfers.map(t => [`${t.id} ${t.device}`, t]))
    line({ event: 'queued', transfers })
    const finish = (): void => {
      if ([...keys.values()].every(t => FINAL.has(t.state))) {
        shares.off('change', onChange)
        line({ event: 'end', transfers: [...keys.values()] })
        res.end()
      }
    }
    const onChange = (view: ShareView): void => {
      const k = `${view.id} ${view.device}`
      if (view.direction !== 'out' || !keys.has(k)) return
      keys.set(k, view)
      line({ event: 'progress', id: view.id, device: view.device, name: view.name, bytes: view.bytes, size: view.size, state: view.state, ...(view.reason == null ? {} : { reason: view.reason }) })
      finish()
    }
    shares.on('change', onChange)
    res.on('close', () => { shares.off('change', onChange) })
    // some may have ended before we listened
    for (const t of transfers) { const now = shares.get(t.id, t.device); if (now != null) keys.set(`${t.id} ${t.device}`, now) }
    finish()
  }

  return [
    jsonRoute(API.shares, () => shares.list()),
    streamRoute(API.share, async (req, res) => {
      const body = objectBody(req, ['paths', 'text', 'to'])
      const devices = await devicesOf(directory, body.to)
      if ((body.paths === undefined) === (body.text === undefined)) throw new ControlError(400, 'invalid_body', 'give either paths (files) or text (a snippet)')
      let transfers: ShareView[]
      if (body.text !== undefined) transfers = shares.shareText(text(body, 'text', 64 * 1024), devices)
      else {
        if (!Array.isArray(body.paths) || body.paths.length === 0 || body.paths.length > 100 || !body.paths.every(p => typeof p === 'string' && isAbsolute(p))) throw new ControlError(400, 'invalid_body', 'paths must be 1 to 100 absolute file paths')
        transfers = await shares.shareFiles(body.paths as string[], devices)
      }
      follow(transfers, res)
    }),
    // the page: the file itself as the body, kept in the data directory until it went
    bytesRoute(API.shareUpload, async (req, body, res) => {
      const name = sanitizeName(req.query.get('name') ?? '')
      const devices = await devicesOf(directory, (req.query.get('to') ?? '').split(',').filter(Boolean))
      const dir = join(dataDir, 'outbox', randomBytes(8).toString('hex'))
      await mkdir(dir, { recursive: true })
      const path = join(dir, name)
      try {
        await pipeline(body, createWriteStream(path, { mode: 0o600 }))
        sendJson(res, 201, await shares.shareFiles([path], devices))
      } catch (err) {
        await rm(dir, { recursive: true, force: true })
        throw err
      }
    }),
    jsonRoute(API.cancelShare, (req) => shares.cancel(req.params.id ?? '')),
    // a received file, for the page's download link: only files that arrived whole, never another path
    bytesRoute(API.sharedFile, async (req, _body, res) => {
      const file = shares.received(req.params.id ?? '', req.query.get('device') ?? '')
      await sendFile(res, { ...file, type: 'application/octet-stream', inline: false, cache: 'no-store' })
    })
  ]
}
