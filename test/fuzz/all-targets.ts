import { IDENTITY_TARGETS } from './identity-targets.ts'
import { TARGETS, type FuzzTarget } from './targets.ts'

/** Every fuzz target: the SMS log's and the node's. */
export const ALL_TARGETS: FuzzTarget[] = [...TARGETS, ...IDENTITY_TARGETS]
