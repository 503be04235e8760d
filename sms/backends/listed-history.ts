import type { SmsHistory, StoredSms } from './backend.ts'

/**
 * The history of a store that can only be read whole (a spool folder, a modem's message
 * list): read once when an import starts (offset 0), newest first, and paged from that copy.
 */
export function listedHistory (list: () => Promise<StoredSms[]>): SmsHistory {
  let listing: StoredSms[] = []
  return {
    page: async (offset, limit) => {
      if (offset === 0) listing = await list()
      return { entries: listing.slice(offset, offset + limit), end: offset + limit >= listing.length }
    }
  }
}
