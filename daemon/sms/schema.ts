/**
 * The SMS database (`sms.db`): the replicated log (`events`, `origins`), the views built from
 * it (`messages`, `statuses`, `assignments`, `reads`) and this device's own proxy work
 * (`proxy_parts`, never replicated). See docs/PROTOCOL.md §8.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  origin TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL, sig BLOB NOT NULL, hidden INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (origin, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY, contiguous INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, conversation TEXT NOT NULL, direction TEXT NOT NULL, sender TEXT, recipients TEXT NOT NULL,
  body TEXT NOT NULL, author TEXT NOT NULL, via TEXT, created_at INTEGER NOT NULL,
  status TEXT NOT NULL, reason TEXT, read INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation, created_at);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (created_at);
CREATE INDEX IF NOT EXISTS messages_unassigned ON messages (author, status) WHERE via IS NULL;
CREATE TABLE IF NOT EXISTS statuses (
  id TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL, device TEXT NOT NULL, reason TEXT, sender TEXT,
  PRIMARY KEY (id, status, device, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS assignments (id TEXT PRIMARY KEY, via TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reads (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS proxy_parts (
  id TEXT NOT NULL, recipient TEXT NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL,
  state TEXT NOT NULL, ref TEXT, reason TEXT, received_at INTEGER NOT NULL,
  PRIMARY KEY (id, recipient)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS proxy_parts_by_state ON proxy_parts (state);
CREATE INDEX IF NOT EXISTS proxy_parts_by_ref ON proxy_parts (ref);
`
