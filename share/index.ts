export { ShareService, type ShareServiceInit } from './service.ts'
export { DEFAULT_SHARE_MAX_BYTES, MAX_SHARE_TEXT_CHARS, SHARE_CAPABILITY, SHARE_CHANNEL, type ShareState, type ShareView } from './constants.ts'
export { InvalidShareError, ShareProtocolError, ShareRefusedError } from './errors.ts'
export { defaultDownloads, freeName, sanitizeName } from './names.ts'
