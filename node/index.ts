/**
 * The device node as the daemon composes it: the libp2p node with our transports, discovery
 * and dialling, the device key and names, and the identity layer (account, device book,
 * grants, membership).
 */
export { createDeviceNode, type DeviceNode, type DeviceNodeInit, type DeviceServices } from './create-node.ts'
export { DEVICE_KINDS, type DeviceKind } from './constants.ts'
export { loadOrCreateDeviceKey, writeSecretFile } from './device-key.ts'
export { validateDeviceKind, validateDeviceName } from './device-names.ts'
export { DeviceKeyError, InvalidDeviceInfoError, NumberClaimError } from './errors.ts'
export { BlobPush, BLOB_PUSH_PROTOCOL } from './blob-push.ts'
export { NumberClaims, numberCid, NUMBER_PROTOCOL, type NumberClaim, type ProofRequest, type ProvenRequest, type NetworkReceipt } from './number-claims.ts'
export { AccountStore } from './identity/account.ts'
export { Grants, isCapability, type GrantEntry } from './identity/grants.ts'
export { openDeviceBook, ProfileBook, type KnownDevice } from './identity/profile-book.ts'
export type { PairRequest } from './identity/pairing.ts'
export type { SelfDescription } from './identity/own-profile.ts'
export type { Capability, PowerFacts, SimFacts } from './identity/records.ts'
export type { DeviceId, OtherRelation, Relation } from './identity/relation.ts'
export { EpochForkError, InvalidCertificateError, InvalidEpochError, InvalidGrantError, InvalidProfileError, InvalidRecordError, NotAMemberError, PairingError, ReplayedRecordError } from './identity/errors.ts'
