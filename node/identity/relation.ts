/**
 * What a device is to this one, and how a device is named: one definition for every layer
 * (types only, so the CLI, the page and the SMS service share it without loading anything).
 */

/** A device's id: its libp2p PeerId as a string (`12D3KooW…`), the same everywhere. */
export type DeviceId = string

/** This device itself, a member of its account, or a device seen nearby (any other). */
export type Relation = 'self' | 'member' | 'nearby'

/** The relation of another device: never `self`. */
export type OtherRelation = Exclude<Relation, 'self'>
