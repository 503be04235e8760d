export interface LineReaderInit {
  /** What ends a record: a newline by default; Server-Sent Events end one with a blank line. */
  separator?: string
  /** A record that grows past this many characters without its separator is too long (see `overflowed`). */
  maxLength?: number
}

/**
 * Reassembles text records (JSON lines, event-stream blocks) from chunks as they arrive: one
 * line reader for the control API's clients (the CLI's and the page's) and the carrier's
 * protocol. Blank records are skipped.
 */
export class LineReader {
  private buffer = ''
  private readonly separator: string
  private readonly maxLength: number

  constructor (init: LineReaderInit = {}) {
    this.separator = init.separator ?? '\n'
    this.maxLength = init.maxLength ?? Number.MAX_SAFE_INTEGER
  }

  /** Every whole record in what has arrived so far (without its separator). */
  push (text: string): string[] {
    this.buffer += text
    const records: string[] = []
    let end: number
    while ((end = this.buffer.indexOf(this.separator)) >= 0) {
      const record = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + this.separator.length)
      if (record.trim() !== '') records.push(record)
    }
    return records
  }

  /** The unfinished record is already longer than `maxLength`: the sender is not speaking this protocol. */
  get overflowed (): boolean {
    return this.buffer.length > this.maxLength
  }

  /** What came after the last separator (a last record without one, when the text ended). */
  rest (): string {
    return this.buffer
  }
}
