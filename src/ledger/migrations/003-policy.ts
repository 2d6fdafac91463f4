// Migration 3: applied policies and two-person approval requests.
// Each `policy apply` adds a policy_sets row (the newest is the active one) with the rules as JSON and the
// hash of the files they came from; rule_count lets every command ask "is any rule active?" with one
// indexed read before it loads any policy code.
export const sql = `
CREATE TABLE policy_sets (
  id          INTEGER PRIMARY KEY,
  applied_at  TEXT NOT NULL,
  applied_by  TEXT NOT NULL,
  hash        TEXT NOT NULL,
  sources     TEXT NOT NULL,
  rules       TEXT NOT NULL,
  rule_count  INTEGER NOT NULL
) STRICT;

CREATE TABLE approval_requests (
  id            TEXT PRIMARY KEY,
  op            TEXT NOT NULL CHECK (op IN ('delete', 'purge', 'restore')),
  key_id        TEXT,
  alias         TEXT,
  args          TEXT NOT NULL DEFAULT '{}',
  required      INTEGER NOT NULL CHECK (required >= 1),
  requested_by  TEXT NOT NULL,
  requested_at  TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'executed', 'failed')),
  closed_at     TEXT,
  closed_by     TEXT,
  error_code    TEXT
) STRICT;

CREATE TABLE approvals (
  request_id  TEXT NOT NULL REFERENCES approval_requests(id),
  actor       TEXT NOT NULL,
  approved_at TEXT NOT NULL,
  PRIMARY KEY (request_id, actor)
) STRICT;
`;
