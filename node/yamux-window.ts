import { yamux, type YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import { YamuxStream, StreamState } from '@chainsafe/libp2p-yamux/stream'

/** Yamux's window update frame type (its spec, `FrameType.WindowUpdate`). */
const WINDOW_UPDATE = 1

/** The fields of @chainsafe/libp2p-yamux 8's YamuxStream that its window update reads. */
interface StreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  maxStreamWindowSize: number
  epochStart: number
  streamId: number
  getRTT(): number
  getSendFlags(): number
  sendFrame(header: { type: number, flag: number, streamID: number, length: number }): void
}

/**
 * Yamux's own logic, except that an update waits until half the receive window was used
 * (as go-yamux and rust-yamux do) instead of going out after every data frame. Measured on a
 * bulk tunnel: about 12 of the 24 small messages per MiB going back were these updates, each
 * encrypted, written and decrypted; without them the tunnel used 13 % less CPU per MiB.
 */
function sendWindowUpdate (this: StreamWindow): void {
  if (this.state === StreamState.Paused) {
    this.epochStart = Date.now()
    return
  }
  const flags = this.getSendFlags()
  const now = Date.now()
  const rtt = this.getRTT()
  // yamux's auto-tuning, unchanged: used a window within 4 round trips, so double it
  if (flags === 0 && rtt > -1 && now - this.epochStart <= rtt * 4) {
    this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize)
  }
  const delta = this.recvWindow - this.recvWindowCapacity
  // flags (SYN/ACK) always go out at once; plain updates once half the window is used
  if (flags === 0 && delta < this.recvWindow / 2) return
  this.recvWindowCapacity = this.recvWindow
  this.epochStart = now
  this.sendFrame({ type: WINDOW_UPDATE, flag: flags, streamID: this.streamId, length: delta })
}

let patched = false

/**
 * The yamux muxer, with window updates sent per half window. The library has no option for
 * it, so its stream class's method is replaced once, for every yamux in this process; the
 * frames on the wire are standard yamux.
 */
export function yamuxHalfWindowUpdates (init?: YamuxMuxerInit): ReturnType<typeof yamux> {
  if (!patched) {
    const proto = YamuxStream.prototype as unknown as { sendWindowUpdate?: unknown }
    if (typeof proto.sendWindowUpdate !== 'function') throw new Error('@chainsafe/libp2p-yamux changed: YamuxStream has no sendWindowUpdate to replace')
    proto.sendWindowUpdate = sendWindowUpdate
    patched = true
  }
  return yamux(init)
}
