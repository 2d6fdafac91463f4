import type { KeyObject } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { Db } from '../ledger/db.js';
import { immediate } from '../ledger/db.js';
import { GENESIS_HASH, canonicalJson, recordHash, type AuditFields } from './canonical.js';
import { CHAIN_COLUMNS, GENESIS_HEX, walkChain } from './scan.js';

/** MACs a record's hash with the ledger's audit key on the token (see seal.ts). */
export interface Sealer {
  seal(hash: Buffer): Buffer;
  check(hash: Buffer, seal: Buffer): boolean;
  /** The seal key itself, for a verifying thread of the same process (never written anywhere). */
  key?: KeyObject;
}

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

/** An audit row as SQLite stores it. */
export type StoredRecord = AuditFields & { prev_hash: Buffer; hash: Buffer; seal: Buffer | null };
type Row = StoredRecord;

export function fieldsOf(r: StoredRecord): AuditFields {
  return {
    seq: r.seq, ts: r.ts, actor: r.actor, os_user: r.os_user, host: r.host, command: r.command, key_id: r.key_id, alias: r.alias,
    version: r.version, outcome: r.outcome, error_code: r.error_code, duration_ms: r.duration_ms, details: r.details,
  };
}

/** The record's own hash still matches its fields (with its stored seq, or another one to test). */
export function hashMatches(r: StoredRecord, seq = r.seq): boolean {
  return recordHash({ ...fieldsOf(r), seq }, r.prev_hash).equals(r.hash);
}

function buildRow(who: Actor, e: AuditEntry, ts: string, last: { seq: number; hash: Buffer }, sealer?: Sealer): Row {
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
  const hash = recordHash(fields, last.hash);
  return { ...fields, prev_hash: last.hash, hash, seal: sealer ? sealer.seal(hash) : null };
}

function lastLink(db: Db): { seq: number; hash: Buffer } {
  const r = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: Buffer } | undefined;
  return r ?? { seq: 0, hash: GENESIS_HASH };
}

// Positional parameters: binding by name costs a batch a few microseconds a record.
const INSERT = `INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code,
  duration_ms, details, prev_hash, hash, seal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/**
 * Seals the records written without a token session, oldest first, each only after its hash and its
 * link to the record before it check out: a record that was tampered with while it waited stays
 * unsealed, and `audit verify` names it. Returns how many were sealed. Pages through the waiting
 * records as raw rows (a ledger that offline verifies filled for months may hold very many).
 */
export function sealPendingInTx(db: Db, sealer: Sealer): number {
  const first = db.prepare('SELECT seq FROM audit WHERE seal IS NULL ORDER BY seq LIMIT 1').pluck().get() as number | undefined;
  if (first === undefined) return 0;
  const before = db.prepare('SELECT seq, lower(hex(hash)) FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT 1').raw().get(first) as [number, string] | undefined;
  const from = before?.[0] ?? 0;
  const pending = db.prepare(`SELECT ${CHAIN_COLUMNS} FROM audit WHERE seal IS NULL AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).raw();
  const update = db.prepare('UPDATE audit SET seal = ? WHERE seq = ? AND seal IS NULL');
  const last = walkChain(pending, from, before?.[1] ?? GENESIS_HEX, Number.MAX_SAFE_INTEGER, (row, h) => {
    update.run(sealer.seal(h), row[0]);
    return true;
  });
  return last - from;
}

/**
 * Appends records to the hash chain inside the caller's transaction (or its own): the previous hash is
 * read under the write lock, so concurrent writers can never fork the chain.
 */
export function appendAuditInTx(db: Db, who: Actor, entries: AuditEntry[], now: Date, sealer?: Sealer): number[] {
  // With a token session, what waited for a seal is sealed first, in this same transaction: so a sealed
  // record follows an unsealed one only where that one fails its checks.
  if (sealer) sealPendingInTx(db, sealer);
  let last = lastLink(db);
  const stmt = db.prepare(INSERT);
  const seqs: number[] = [];
  const ts = now.toISOString();
  for (const e of entries) {
    const row = buildRow(who, e, ts, last, sealer);
    stmt.run(row.seq, row.ts, row.actor, row.os_user, row.host, row.command, row.key_id, row.alias, row.version, row.outcome, row.error_code, row.duration_ms, row.details, row.prev_hash, row.hash, row.seal);
    last = { seq: row.seq, hash: row.hash };
    seqs.push(row.seq);
  }
  return seqs;
}

export function appendAudit(db: Db, who: Actor, entries: AuditEntry[], now: Date, sealer?: Sealer): number[] {
  return immediate(db, 'writing the audit trail', () => appendAuditInTx(db, who, entries, now, sealer));
}
