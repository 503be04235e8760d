/**
 * The SMS service as the daemon composes it: the message log, its replication over the
 * tunnel, the proxy and client roles, the backends' registry and the codec's number rules.
 */
export { SmsService, SMS_DB_FILE, type SendRequest, type SmsDevice, type SmsServiceInit } from './service.ts'
export { DEFAULT_SMS_RATE, STATUSES, type SmsStatus } from './constants.ts'
export { HistoryUnavailableError, InvalidContactsError, InvalidEventError, InvalidSmsError, SmsBackendError, StorageError, SyncProtocolError, UnknownMessageError } from './errors.ts'
export { backendHelp, BACKENDS, createBackend, NO_BACKEND } from './backends/registry.ts'
export type { BackendKind, SmsBackend } from './backends/backend.ts'
export { conversationOf, normalizeNumber } from './codec/numbers.ts'
export type { Attachment, AttachmentView, ContactView, ConversationView, MessageView, NumberView, StatusEntry } from './view-types.ts'
export { INLINE_TYPES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, safeName } from './attachment-shape.ts'
export { MAX_VCARD_BYTES } from './vcard.ts'
export { askMac, answerOf, sameMac } from './verification.ts'
export type { NumberChecks } from './number-checks.ts'
export { NotCarriedError, type Arriving, type Binding, type Carried, type Receipt } from './network-texts.ts'
