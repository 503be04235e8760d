import { pathToFileURL } from 'node:url'
const mod = await import(pathToFileURL('/work/main/node_modules/@chainsafe/libp2p-yamux/dist/src/stream.js').href)
const proto = mod.YamuxStream.prototype
const stats: Record<string, number> = {}
const orig = proto.sendWindowUpdate
proto.sendWindowUpdate = function () {
  const key = `state=${this.state} cap>=win=${this.recvWindowCapacity >= this.recvWindow} win=${this.recvWindow}`
  stats[key] = (stats[key] ?? 0) + 1
  return orig.call(this)
}
process.on('exit', () => { console.log(Object.entries(stats).sort((a, b) => b[1] - a[1]).slice(0, 6)) })
await import(process.argv[2]!)
