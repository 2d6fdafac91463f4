// The audit trail seen from outside: ledger.db through the sqlite3 CLI, and record hashes computed from
// docs/audit-format.md alone. Nothing here imports src/.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const GENESIS = '00'.repeat(32);

export interface AuditRow {
  seq: number;
  ts: string;
  actor: string;
  os_user: string;
  host: string;
  command: string;
  key_id: string | null;
  alias: string | null;
  version: number | null;
  outcome: string;
  error_code: string | null;
  duration_ms: number;
  details: string;
  prev_hash: string;
  hash: string;
  seal: string | null;
}

/** Runs SQL on the home's ledger.db with the sqlite3 command-line shell; returns its stdout. */
export function sqlite(home: string, sql: string): string {
  const r = spawnSync('sqlite3', [join(home, 'ledger.db'), sql], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`sqlite3 is needed by the audit tests (apt-get install sqlite3): ${r.error.message}`);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

export function auditRows(home: string): AuditRow[] {
  const out = sqlite(home, "SELECT json_object('seq', seq, 'ts', ts, 'actor', actor, 'os_user', os_user, 'host', host, 'command', command, 'key_id', key_id, 'alias', alias, 'version', version, 'outcome', outcome, 'error_code', error_code, 'duration_ms', duration_ms, 'details', details, 'prev_hash', lower(hex(prev_hash)), 'hash', lower(hex(hash)), 'seal', lower(hex(seal))) FROM audit ORDER BY seq");
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l) as AuditRow;
    return { ...r, seal: r.seal === '' ? null : r.seal };
  });
}

/** docs/audit-format.md: SHA-256 over the UTF-8 JSON array [1, seq, ts, ..., details, prev_hash hex]. */
export function docHash(r: Omit<AuditRow, 'prev_hash' | 'hash' | 'seal'>, prevHex: string): string {
  const arr = [1, r.seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details, prevHex];
  return createHash('sha256').update(JSON.stringify(arr), 'utf8').digest('hex');
}

const q = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);

export type NewRecord = Omit<AuditRow, 'seq' | 'prev_hash' | 'hash' | 'seal'>;

/**
 * Appends records straight into ledger.db, chained by the documented rule and unsealed, as records
 * written without a token session are: the next kmsctl command with a token session seals them.
 */
export function appendRaw(home: string, records: NewRecord[]): void {
  const last = auditRows(home).at(-1);
  let prev = last?.hash ?? GENESIS;
  let seq = last?.seq ?? 0;
  const stmts: string[] = [];
  for (const r of records) {
    seq++;
    const h = docHash({ ...r, seq }, prev);
    stmts.push(`INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash) VALUES (${[seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details].map(q).join(', ')}, X'${prev}', X'${h}');`);
    prev = h;
  }
  sqlite(home, `BEGIN IMMEDIATE; ${stmts.join('\n')} COMMIT;`);
}

/** appendRaw for many records: the SQL goes to sqlite3 on stdin, not in its argv. */
export function appendRawMany(home: string, n: number, make: (i: number) => NewRecord): void {
  const last = auditRows(home).at(-1);
  let prev = last?.hash ?? GENESIS;
  let seq = last?.seq ?? 0;
  const stmts: string[] = ['BEGIN IMMEDIATE;'];
  for (let i = 0; i < n; i++) {
    const r = make(i);
    seq++;
    const h = docHash({ ...r, seq }, prev);
    stmts.push(`INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash) VALUES (${[seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details].map(q).join(', ')}, X'${prev}', X'${h}');`);
    prev = h;
  }
  stmts.push('COMMIT;');
  const r = spawnSync('sqlite3', [join(home, 'ledger.db')], { input: stmts.join('\n'), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`sqlite3 is needed by the audit tests (apt-get install sqlite3): ${r.error.message}`);
  expect(r.status, r.stderr).toBe(0);
}

/** A copy of the home's ledger.db with its WAL folded in, for restoreLedger to put back before each attack. */
export function snapshotLedger(home: string): string {
  sqlite(home, 'PRAGMA wal_checkpoint(TRUNCATE)');
  const snapshot = join(home, 'snapshot.db');
  copyFileSync(join(home, 'ledger.db'), snapshot);
  return snapshot;
}

export function restoreLedger(home: string, snapshot: string): void {
  for (const f of ['ledger.db-wal', 'ledger.db-shm']) rmSync(join(home, f), { force: true });
  copyFileSync(snapshot, join(home, 'ledger.db'));
}
