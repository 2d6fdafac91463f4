import { hostname, userInfo } from 'node:os';
import type { Db } from '../ledger/db.js';
import { immediate } from '../ledger/db.js';
import { GENESIS_HASH, canonicalJson, recordHash, type AuditFields } from './canonical.js';

export interface Actor {
  actor: string;
  osUser: string;
  host: string;
}

export function osActor(explicit?: string): Actor {
  let osUser = 'unknown';
  try {
    osUser = userInfo().username;
  } catch {
    osUser = process.env.USER ?? 'unknown';
  }
  return { actor: explicit && explicit.length > 0 ? explicit : osUser, osUser, host: hostname() };
}

export interface AuditEntry {
  command: string;
  keyId?: string | null;
  alias?: string | null;
  version?: number | null;
  outcome: 'success' | 'failure';
  errorCode?: string | null;
  durationMs: number;
  /** Non-secret facts only: never a PIN, plaintext, data key, MAC or signature input. */
  details?: Record<string, unknown>;
}

type Row = AuditFields & { prev_hash: Buffer; hash: Buffer };

function buildRow(db: Db, who: Actor, e: AuditEntry, ts: string, last: { seq: number; hash: Buffer }): Row {
  const fields: AuditFields = {
    seq: last.seq + 1,
    ts,
    actor: who.actor,
    os_user: who.osUser,
    host: who.host,
    command: e.command,
    key_id: e.keyId ?? null,
    alias: e.alias ?? null,
    version: e.version ?? null,
    outcome: e.outcome,
    error_code: e.errorCode ?? null,
    duration_ms: Math.max(0, Math.round(e.durationMs)),
    details: canonicalJson(e.details ?? {}),
  };
  return { ...fields, prev_hash: last.hash, hash: recordHash(fields, last.hash) };
}

function lastLink(db: Db): { seq: number; hash: Buffer } {
  const r = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: Buffer } | undefined;
  return r ?? { seq: 0, hash: GENESIS_HASH };
}

const INSERT = `INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code,
  duration_ms, details, prev_hash, hash) VALUES (@seq, @ts, @actor, @os_user, @host, @command, @key_id, @alias,
  @version, @outcome, @error_code, @duration_ms, @details, @prev_hash, @hash)`;

/**
 * Appends records to the hash chain inside the caller's transaction (or its own): the previous hash is
 * read under the write lock, so concurrent writers can never fork the chain.
 */
export function appendAuditInTx(db: Db, who: Actor, entries: AuditEntry[], now: Date): number[] {
  let last = lastLink(db);
  const stmt = db.prepare(INSERT);
  const seqs: number[] = [];
  const ts = now.toISOString();
  for (const e of entries) {
    const row = buildRow(db, who, e, ts, last);
    stmt.run(row);
    last = { seq: row.seq, hash: row.hash };
    seqs.push(row.seq);
  }
  return seqs;
}

export function appendAudit(db: Db, who: Actor, entries: AuditEntry[], now: Date): number[] {
  return immediate(db, 'writing the audit trail', () => appendAuditInTx(db, who, entries, now));
}
