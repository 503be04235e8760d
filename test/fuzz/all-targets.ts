import { IDENTITY_TARGETS } from './identity-targets.ts'
import { TARGETS, type FuzzTarget } from './targets.ts'
import { HISTORY_TARGETS } from './history-targets.ts'
import { NUMBER_TARGETS } from './number-targets.ts'
import { BLOB_TARGETS } from './blob-targets.ts'
import { SHARE_TARGETS } from './share-targets.ts'
import { NETWORK_TARGETS } from './network-targets.ts'

/** Every fuzz target: the SMS log's, the node's, the phone's store's, other accounts', files', the LAN's. */
export const ALL_TARGETS: FuzzTarget[] = [...TARGETS, ...IDENTITY_TARGETS, ...HISTORY_TARGETS, ...NUMBER_TARGETS, ...BLOB_TARGETS, ...SHARE_TARGETS, ...NETWORK_TARGETS]
