// Migration 1: keys, versions, crash-safety intents and the audit trail.
export const sql = `
CREATE TABLE meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE keys (
  id                 TEXT PRIMARY KEY,
  alias              TEXT NOT NULL UNIQUE,
  spec               TEXT NOT NULL,
  purpose            TEXT NOT NULL CHECK (purpose IN ('wrap', 'mac', 'sign')),
  state              TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'pending-deletion', 'destroyed')),
  primary_version    INTEGER NOT NULL,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL,
  rotation_period_s  INTEGER,
  deletion_window_s  INTEGER,
  description        TEXT,
  labels             TEXT NOT NULL DEFAULT '{}',
  exportable         INTEGER NOT NULL DEFAULT 0,
  destroy_after      TEXT,
  last_rotated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE versions (
  key_id        TEXT NOT NULL REFERENCES keys(id),
  version       INTEGER NOT NULL CHECK (version >= 1),
  state         TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'pending-destruction', 'destroyed')),
  cka_id        BLOB NOT NULL UNIQUE,
  public_key    BLOB,
  created_at    TEXT NOT NULL,
  destroy_after TEXT,
  destroyed_at  TEXT,
  use_count     INTEGER NOT NULL DEFAULT 0,
  last_used_at  TEXT,
  last_used_op  TEXT,
  PRIMARY KEY (key_id, version)
) STRICT;

-- An intent is written before the token changes and removed when the ledger is complete;
-- one left behind is what a killed process was doing, for doctor to finish or roll back.
CREATE TABLE intents (
  id         INTEGER PRIMARY KEY,
  op         TEXT NOT NULL,
  key_id     TEXT NOT NULL,
  alias      TEXT,
  version    INTEGER,
  cka_id     BLOB,
  data       TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  pid        INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX intents_key_version ON intents(key_id, version) WHERE version IS NOT NULL;
CREATE UNIQUE INDEX intents_alias ON intents(alias) WHERE alias IS NOT NULL;

CREATE TABLE audit (
  seq         INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  actor       TEXT NOT NULL,
  os_user     TEXT NOT NULL,
  host        TEXT NOT NULL,
  command     TEXT NOT NULL,
  key_id      TEXT,
  alias       TEXT,
  version     INTEGER,
  outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
  error_code  TEXT,
  duration_ms INTEGER NOT NULL,
  details     TEXT NOT NULL DEFAULT '{}',
  prev_hash   BLOB NOT NULL,
  hash        BLOB NOT NULL,
  seal        BLOB
) STRICT;
CREATE INDEX audit_key ON audit(key_id, seq);
CREATE INDEX audit_ts ON audit(ts);
`;
