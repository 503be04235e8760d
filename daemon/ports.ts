import { createServer } from 'node:net'

/**
 * The daemon listens on both families on one port (remembered in settings.json), so a
 * firewall needs one rule and a device is found at the same port whichever family it uses.
 */
export function listenAddresses (port: number): string[] {
  return [`/ip4/0.0.0.0/tcp/${port}`, `/ip6/::/tcp/${port}`]
}

async function bindOnce (host: string): Promise<number> {
  const server = createServer()
  return await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    // a dual-stack bind on :: takes the port on both families at once
    server.listen({ host, port: 0, ipv6Only: false }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address != null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

/** A port free on IPv4 and IPv6 alike (IPv4 only where the host has no IPv6). */
export async function freeDualStackPort (): Promise<number> {
  try {
    return await bindOnce('::')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw err
    return await bindOnce('0.0.0.0')
  }
}
