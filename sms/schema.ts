import type { DatabaseSync } from 'node:sqlite'

/** The views: everything in them follows from the log, so they can be rebuilt from it. */
const VIEWS = `
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, conversation TEXT NOT NULL, direction TEXT NOT NULL, sender TEXT, recipients TEXT NOT NULL,
  body TEXT NOT NULL, author TEXT NOT NULL, via TEXT, created_at INTEGER NOT NULL,
  status TEXT NOT NULL, reason TEXT, read INTEGER NOT NULL DEFAULT 0, route TEXT, seen_at INTEGER, attachments TEXT, sms_only INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS message_attachments (sha256 TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (sha256, id));
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, created_at);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (created_at);
CREATE INDEX IF NOT EXISTS messages_unassigned ON messages (author, status) WHERE via IS NULL;
CREATE TABLE IF NOT EXISTS statuses (
  id TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL, device TEXT NOT NULL, reason TEXT, sender TEXT,
  PRIMARY KEY (id, status, device, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assignments (id TEXT NOT NULL, device TEXT NOT NULL, via TEXT NOT NULL, route TEXT, PRIMARY KEY (id, device)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reads (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversations (conversation TEXT PRIMARY KEY, messages INTEGER NOT NULL, unread INTEGER NOT NULL, last_id TEXT NOT NULL, last_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (last_at, last_id);
CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY, name TEXT NOT NULL, numbers TEXT NOT NULL, at INTEGER NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contact_numbers (number TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (number, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS numbers (number TEXT PRIMARY KEY, account TEXT NOT NULL, verified_at INTEGER NOT NULL, epoch INTEGER, origin TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;`

/**
 * The SMS database (`sms.db`): the replicated log (`events`, `origins`), the views built from
 * it (`messages`, `conversations`, `statuses`, `assignments`, `reads`, `contacts`) and this device's own
 * work, never replicated: the proxy's (`proxy_parts`), which entries of the phone's store are
 * in the log (`stored_keys`) and what it remembers between runs (`local_state`), and the devices the account removed (`removed_devices`, from its epochs, not the log). See docs/PROTOCOL.md §8.5.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  origin TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL, sig BLOB NOT NULL, hidden INTEGER NOT NULL DEFAULT 0,
  refused TEXT, stub BLOB,
  PRIMARY KEY (origin, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_refused ON events (origin, seq) WHERE refused IS NOT NULL;
CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY, contiguous INTEGER NOT NULL) WITHOUT ROWID;
${VIEWS}
CREATE TABLE IF NOT EXISTS proxy_parts (
  id TEXT NOT NULL, recipient TEXT NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, ref TEXT, reason TEXT, received_at INTEGER NOT NULL,
  PRIMARY KEY (id, recipient)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proxy_parts_by_state ON proxy_parts (state);
CREATE INDEX IF NOT EXISTS proxy_parts_by_ref ON proxy_parts (ref);
CREATE INDEX IF NOT EXISTS proxy_parts_by_recipient ON proxy_parts (recipient, received_at);
CREATE TABLE IF NOT EXISTS stored_keys (key TEXT PRIMARY KEY, id TEXT NOT NULL, party TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stored_keys_by_id ON stored_keys (id, party);
CREATE TABLE IF NOT EXISTS local_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS used_codes (code TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS network_inbox (id TEXT PRIMARY KEY, account TEXT NOT NULL, original TEXT NOT NULL, sender TEXT NOT NULL, number TEXT NOT NULL, receipt INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_pushes (sha256 TEXT NOT NULL, account TEXT NOT NULL, size INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (sha256, account)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS network_sends (id TEXT PRIMARY KEY, state TEXT NOT NULL, mode TEXT NOT NULL, since INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS removed_devices (device TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
`

/** `PRAGMA user_version` of the schema above. */
export const SCHEMA_VERSION = 10
/** The last version whose view rules changed: a file older than this has its views rebuilt. */
const VIEWS_VERSION = 9

/**
 * Bring a file of an older schema up to this one; true when its views must be rebuilt from
 * the log (the rules that build them changed).
 */
export function migrate (db: DatabaseSync): boolean {
  const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version
  if (version >= SCHEMA_VERSION) return false
  const columns = (db.prepare('PRAGMA table_info(events)').all() as Array<{ name: string }>).map(c => c.name)
  const old = columns.length > 0
  db.exec('BEGIN IMMEDIATE')
  try {
    if (old && !columns.includes('refused')) db.exec('ALTER TABLE events ADD COLUMN refused TEXT; ALTER TABLE events ADD COLUMN stub BLOB')
    const rebuild = old && version < VIEWS_VERSION
    if (rebuild) db.exec('DROP TABLE IF EXISTS messages; DROP TABLE IF EXISTS statuses; DROP TABLE IF EXISTS assignments; DROP TABLE IF EXISTS reads; DROP TABLE IF EXISTS contacts; DROP TABLE IF EXISTS contact_numbers; DROP TABLE IF EXISTS conversations; DROP TABLE IF EXISTS numbers; DROP TABLE IF EXISTS seen; DROP TABLE IF EXISTS message_attachments')
    db.exec(SCHEMA)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    db.exec('COMMIT')
    return rebuild
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}
