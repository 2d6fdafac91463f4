// Migration 2: finding the records that still wait for a seal must not scan the whole trail on every
// command, so unsealed records get an index of their own (it stays tiny: they are sealed by the next
// command that has a token session).
export const sql = `
CREATE INDEX audit_unsealed ON audit(seq) WHERE seal IS NULL;
`;
