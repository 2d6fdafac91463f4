// Migration 4: `audit --key` matches a key's id or its alias (a failed create has no id); with an index
// on each, SQLite answers the OR from both indexes instead of scanning the whole trail.
export const sql = `
CREATE INDEX audit_alias ON audit(alias, seq);
`;
