import type { Db } from '../ledger/db.js';
import { findKey } from '../ledger/records.js';
import { usage } from '../errors.js';
import type { StoredRecord } from './append.js';

export interface AuditRecordView {
  seq: number;
  ts: string;
  actor: string;
  osUser: string;
  host: string;
  command: string;
  keyId: string | null;
  alias: string | null;
  version: number | null;
  outcome: string;
  errorCode: string | null;
  durationMs: number;
  details: Record<string, unknown>;
  hash: string;
  sealed: boolean;
}

export interface AuditFilter {
  key?: string;
  version?: number;
  actor?: string;
  /** The command that wrote the record (wrap, unwrap, rotate ...). */
  action?: string;
  outcome?: 'success' | 'failure';
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  sinceSeq?: number;
  /** The newest this many of the matches. */
  limit?: number;
}

export const OUTCOMES = ['success', 'failure'] as const;

function where(db: Db, f: AuditFilter): { sql: string; params: Array<string | number> } {
  const w: string[] = [];
  const params: Array<string | number> = [];
  if (f.version !== undefined && f.key === undefined) throw usage('--version needs --key: a version number means nothing without its key');
  if (f.key !== undefined) {
    // A key is matched by id, so its records stay together across an alias; the alias also matches
    // records of a failed create, which never got an id.
    const k = findKey(db, f.key);
    w.push('(key_id = ? OR alias = ?)');
    params.push(k?.id ?? f.key, k?.alias ?? f.key);
  }
  if (f.version !== undefined) {
    w.push('version = ?');
    params.push(f.version);
  }
  if (f.actor !== undefined) {
    w.push('actor = ?');
    params.push(f.actor);
  }
  if (f.action !== undefined) {
    w.push('command = ?');
    params.push(f.action);
  }
  if (f.outcome !== undefined) {
    w.push('outcome = ?');
    params.push(f.outcome);
  }
  // Times are stored as toISOString() (UTC, millisecond precision), so text order is time order.
  if (f.since !== undefined) {
    w.push('ts >= ?');
    params.push(f.since.toISOString());
  }
  if (f.until !== undefined) {
    w.push('ts < ?');
    params.push(f.until.toISOString());
  }
  if (f.sinceSeq !== undefined) {
    w.push('seq > ?');
    params.push(f.sinceSeq);
  }
  return { sql: w.length ? `WHERE ${w.join(' AND ')}` : '', params };
}

/** Matching records, oldest first (with a limit: the newest `limit` of them). */
export function queryRecords(db: Db, f: AuditFilter): StoredRecord[] {
  const { sql, params } = where(db, f);
  if (f.limit === undefined) return db.prepare(`SELECT * FROM audit ${sql} ORDER BY seq`).all(...params) as StoredRecord[];
  return (db.prepare(`SELECT * FROM audit ${sql} ORDER BY seq DESC LIMIT ?`).all(...params, f.limit) as StoredRecord[]).reverse();
}

/** Matching records one at a time, oldest first: for exports larger than memory. */
export function* iterateRecords(db: Db, f: Omit<AuditFilter, 'limit'>): Generator<StoredRecord> {
  const { sql, params } = where(db, f);
  // Paged by seq rather than one open cursor, so the connection stays usable between pages.
  const stmt = db.prepare(`SELECT * FROM audit ${sql ? `${sql} AND` : 'WHERE'} seq > ? ORDER BY seq LIMIT 1000`);
  let after = 0;
  for (;;) {
    const rows = stmt.all(...params, after) as StoredRecord[];
    if (rows.length === 0) return;
    yield* rows;
    after = rows[rows.length - 1].seq;
  }
}

export function recordView(r: StoredRecord): AuditRecordView {
  return {
    seq: r.seq, ts: r.ts, actor: r.actor, osUser: r.os_user, host: r.host, command: r.command, keyId: r.key_id, alias: r.alias, version: r.version,
    outcome: r.outcome, errorCode: r.error_code, durationMs: r.duration_ms, details: JSON.parse(r.details) as Record<string, unknown>, hash: r.hash.toString('hex'), sealed: r.seal !== null,
  };
}

export function queryAudit(db: Db, f: AuditFilter): AuditRecordView[] {
  return queryRecords(db, f).map(recordView);
}

export const EXPORT_SCHEMA = 'kmsctl.audit.v1';

/**
 * One record as a SIEM reads it (audit export, audit --jsonl). These field names and types are a
 * contract: fields may be added, never renamed or retyped. Documented in docs/audit-format.md.
 */
export interface ExportRecord {
  schema: typeof EXPORT_SCHEMA;
  seq: number;
  time: string;
  actor: string;
  os_user: string;
  host: string;
  action: string;
  key_id: string | null;
  key_alias: string | null;
  key_version: number | null;
  outcome: string;
  error_code: string | null;
  duration_ms: number;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  seal: string | null;
}

export function exportRecord(r: StoredRecord): ExportRecord {
  return {
    schema: EXPORT_SCHEMA,
    seq: r.seq,
    time: r.ts,
    actor: r.actor,
    os_user: r.os_user,
    host: r.host,
    action: r.command,
    key_id: r.key_id,
    key_alias: r.alias,
    key_version: r.version,
    outcome: r.outcome,
    error_code: r.error_code,
    duration_ms: r.duration_ms,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prev_hash: r.prev_hash.toString('hex'),
    hash: r.hash.toString('hex'),
    seal: r.seal ? r.seal.toString('hex') : null,
  };
}
