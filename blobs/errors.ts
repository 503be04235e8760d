/** A file over the limit of what it is sent as (an attachment's 25 MiB). */
export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError'
}

/** Bytes that are not those of the blob they were sent as (or more of them): dropped. */
export class BlobMismatchError extends Error {
  override readonly name = 'BlobMismatchError'
}

/** A blob no device asked has (yet), or the transfer of one failed. */
export class BlobUnavailableError extends Error {
  override readonly name = 'BlobUnavailableError'
}

/** A request for or with a blob the other side broke the protocol in. */
export class BlobProtocolError extends Error {
  override readonly name = 'BlobProtocolError'
}
