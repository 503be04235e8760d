import type { ChannelService } from '../../link/index.ts'

/** Every daemon echoes on this channel: for `companion connect <device> echo` and latency checks. */
export const ECHO_CHANNEL = 'echo'

export const echoService: ChannelService = {
  name: ECHO_CHANNEL,
  serve: (channel) => {
    void (async () => {
      try {
        for await (const chunk of channel) await channel.write(chunk)
        channel.end()
      } catch {}
    })()
  }
}
