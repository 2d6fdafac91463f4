// Migration 5: version numbers given up by rotations that were rolled back (killed before the version
// reached the ledger, then rolled back by doctor --repair, or refused by the token). A number is never
// handed out twice, so that a blob can never name other key material under the same number: the next
// rotate counts these too, and show names them so that a gap in the versions explains itself.
export const sql = `
CREATE TABLE rolled_back_versions (
  key_id          TEXT NOT NULL REFERENCES keys(id),
  version         INTEGER NOT NULL CHECK (version >= 1),
  op              TEXT NOT NULL,
  rolled_back_at  TEXT NOT NULL,
  reason          TEXT NOT NULL,
  PRIMARY KEY (key_id, version)
) STRICT;
`;
