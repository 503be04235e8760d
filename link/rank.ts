import { PREDETERMINED_RANK } from './link-kind.ts'
import type { LinkKind } from './link-types.ts'

/** What the link manager knows of a link, for ranking. */
export interface LinkFacts {
  id: string
  kind: LinkKind
  /** Last measured round trip, ms (undefined until the first probe answer). */
  rttMs?: number
  /** Share of recent probes unanswered, 0..1. */
  loss: number
  /** Failures of this path (same local interface to the same device) in its recent history. */
  failures: number
  /** Since when the link has been answering probes (ms timestamp). */
  upSince: number
}

/** A better link must beat the active one by this much: no flapping between near-equals. */
export const HYSTERESIS = 10
/** A link must answer probes this long before it can take over from a working one. */
export const SETTLE_MS = 1_000

/**
 * The dynamic rank: the link kind's, less penalties for round trip, loss and failures.
 * Wired with 1 ms beats Wi-Fi with 1 ms; a wired link losing most of its probes does not.
 */
export function linkScore (link: LinkFacts): number {
  const rttPenalty = link.rttMs == null ? 0 : Math.min(link.rttMs / 5, 20)
  return PREDETERMINED_RANK[link.kind] - rttPenalty - link.loss * 60 - Math.min(link.failures * 5, 30)
}

/**
 * Which link should carry the tunnel: the best-scoring settled link, unless the current one is
 * still there and within HYSTERESIS of it. A link that is not settled takes over only when the
 * current one is gone.
 */
export function chooseActive (links: LinkFacts[], current: string | undefined, now: number): string | undefined {
  if (links.length === 0) return undefined
  const scored = links.map(l => ({ link: l, score: linkScore(l), settled: now - l.upSince >= SETTLE_MS }))
    // ids by code unit, not localeCompare: the same on every machine, and no ICU collation
    // data paged in for it (about 2 MB resident)
    .sort((a, b) => b.score - a.score || (a.link.id < b.link.id ? -1 : a.link.id > b.link.id ? 1 : 0))
  const active = scored.find(s => s.link.id === current)
  if (active == null) return (scored.find(s => s.settled) ?? scored[0])?.link.id
  const best = scored.find(s => s.settled && s.link.id !== current)
  if (best != null && best.score > active.score + HYSTERESIS) return best.link.id
  return current
}
