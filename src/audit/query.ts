import type { Db } from '../ledger/db.js';
import { findKey } from '../ledger/records.js';

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

interface Row {
  seq: number; ts: string; actor: string; os_user: string; host: string; command: string; key_id: string | null; alias: string | null;
  version: number | null; outcome: string; error_code: string | null; duration_ms: number; details: string; hash: Buffer; seal: Buffer | null;
}

export interface AuditFilter {
  key?: string;
  sinceSeq?: number;
  limit?: number;
}

export function queryAudit(db: Db, f: AuditFilter): AuditRecordView[] {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (f.key !== undefined) {
    const k = findKey(db, f.key);
    where.push('(key_id = ? OR alias = ?)');
    params.push(k?.id ?? f.key, k?.alias ?? f.key);
  }
  if (f.sinceSeq !== undefined) {
    where.push('seq > ?');
    params.push(f.sinceSeq);
  }
  const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC ${f.limit !== undefined ? 'LIMIT ?' : ''}`;
  if (f.limit !== undefined) params.push(f.limit);
  const rows = (db.prepare(sql).all(...params) as Row[]).reverse();
  return rows.map((r) => ({
    seq: r.seq, ts: r.ts, actor: r.actor, osUser: r.os_user, host: r.host, command: r.command, keyId: r.key_id, alias: r.alias, version: r.version,
    outcome: r.outcome, errorCode: r.error_code, durationMs: r.duration_ms, details: JSON.parse(r.details) as Record<string, unknown>, hash: r.hash.toString('hex'), sealed: r.seal !== null,
  }));
}
