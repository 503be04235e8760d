import assert from 'node:assert/strict'
import { QUERY_JITTER, QueryPacer, type Family } from '../../node/mdns/query-pacer.ts'

const INTERVAL_MS = 60
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A pacer asking on `families`, run for `ms` while `during` plays the LAN; how many queries it sent. */
async function run (families: Family[], ms: number, during?: (pacer: QueryPacer) => Promise<void>, random = (): number => 0): Promise<number> {
  let sent = 0
  const pacer = new QueryPacer({ intervalMs: INTERVAL_MS, send: () => { sent++ }, families: () => families, random })
  pacer.start()
  try {
    await Promise.all([sleep(ms), during?.(pacer)])
  } finally {
    pacer.stop()
  }
  return sent
}

/** Another device's query heard every `everyMs` on `families`, until `untilMs`. */
function otherDevice (families: Family[], everyMs: number, untilMs: number): (pacer: QueryPacer) => Promise<void> {
  return async (pacer) => {
    for (let t = 0; t + everyMs < untilMs; t += everyMs) {
      await sleep(everyMs)
      for (const f of families) pacer.heard(f)
    }
  }
}

describe('the periodic mDNS query', () => {
  it('goes out once per interval on a quiet LAN', async () => {
    const sent = await run([4, 6], INTERVAL_MS * 6.5)
    assert.ok(sent >= 3 && sent <= 6, `${sent} queries in 6.5 intervals`)
  })

  it('waits while another device asks on every family we ask on: its answers reach us too', async () => {
    assert.equal(await run([4, 6], INTERVAL_MS * 6, otherDevice([4, 6], INTERVAL_MS / 2, INTERVAL_MS * 6)), 0)
  })

  it('still asks when the others ask on IPv4 only: their queries bring no IPv6 answers', async () => {
    const sent = await run([4, 6], INTERVAL_MS * 6.5, otherDevice([4], INTERVAL_MS / 2, INTERVAL_MS * 6.5))
    assert.ok(sent >= 3, `${sent} queries`)
  })

  it('counts a query we sent on an event as the periodic one', async () => {
    const sent = await run([4, 6], INTERVAL_MS * 4, async (pacer) => {
      for (let i = 0; i < 7; i++) { await sleep(INTERVAL_MS / 2); pacer.sentOne() }
    })
    assert.equal(sent, 0)
  })

  it('stretches each interval at random by up to a fifth, so devices started together drift apart', () => {
    for (const [random, waitMs] of [[0, INTERVAL_MS], [0.5, INTERVAL_MS * (1 + QUERY_JITTER / 2)], [1, INTERVAL_MS * (1 + QUERY_JITTER)]] as const) {
      const pacer = new QueryPacer({ intervalMs: INTERVAL_MS, send: () => {}, families: () => [4], random: () => random })
      pacer.start()
      pacer.stop()
      assert.equal(pacer.waitMs, waitMs)
    }
  })
})
