import type { StreamHandler, StreamHandlerOptions } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { MAX_SYNC_FRAME_BYTES, SMS_SUBMIT_PROTOCOL } from './constants.ts'

const TIMEOUT_MS = 10_000
const encoder = new TextEncoder()

/** The proxy's answer to a device outside its account. */
export const OUTSIDER_REFUSAL = 'this phone carries messages only for devices of its own account that it granted sms.send'

/** The part of a libp2p node the SMS service uses: handling one protocol of its own. */
export interface ProtocolHandlers {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string): Promise<void>
}

/**
 * Devices outside the account cannot reach a proxy's tunnel, so a send request from one comes
 * on this protocol, and the answer is always `unauthorized`: nothing is stored or sent.
 */
export async function serveOutsiders (protocols: ProtocolHandlers): Promise<void> {
  await protocols.handle(SMS_SUBMIT_PROTOCOL, async (stream) => {
    const signal = AbortSignal.timeout(TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_SYNC_FRAME_BYTES })
      await lp.read({ signal })
      await lp.write(encoder.encode(JSON.stringify({ status: 'unauthorized', reason: OUTSIDER_REFUSAL })), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 4 })
}
