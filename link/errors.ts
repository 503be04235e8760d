/** Named errors of the link layer. */

/** A peer broke the tunnel protocol: the tunnel stream is reset. */
export class TunnelProtocolError extends Error {
  override readonly name = 'TunnelProtocolError'
}

/** A channel failed: refused, reset by the other side, or no link for the grace period. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError'
}
