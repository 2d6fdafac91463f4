import { hash } from 'node:crypto';

// The canonical encoding of an audit record, version 1. FROZEN: records already written are
// verified against it forever; a change means a new version number, never an edit here.
// Documented in docs/audit-format.md.

export const GENESIS_HASH = Buffer.alloc(32);

export interface AuditFields {
  seq: number;
  ts: string;
  actor: string;
  os_user: string;
  host: string;
  command: string;
  key_id: string | null;
  alias: string | null;
  version: number | null;
  outcome: 'success' | 'failure';
  error_code: string | null;
  duration_ms: number;
  details: string; // canonical JSON of the details object
}

/** JSON with object keys sorted at every depth, no whitespace: the form details are stored in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

function encodingText(r: AuditFields, prevHash: Buffer): string {
  return JSON.stringify([1, r.seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details, prevHash.toString('hex')]);
}

export function encodeRecord(r: AuditFields, prevHash: Buffer): Buffer {
  return Buffer.from(encodingText(r, prevHash), 'utf8');
}

// crypto.hash hashes the string's UTF-8 in one call, without a Hash object or an intermediate Buffer:
// audit verify does this once per record.
export function recordHash(r: AuditFields, prevHash: Buffer): Buffer {
  return hash('sha256', encodingText(r, prevHash), 'buffer');
}

/** The columns, in order, that `rowHash` takes: a record as `SELECT ... ` returns it in raw mode. */
export const ENCODED_COLUMNS = 'seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details';

/**
 * The same hash as recordHash, from a raw row of ENCODED_COLUMNS and the previous hash in hex: what
 * audit verify's walk over a million records uses, without building an object per record.
 */
export function rowHash(row: unknown[], prevHex: string): Buffer {
  return hash('sha256', JSON.stringify([1, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10], row[11], row[12], prevHex]), 'buffer');
}
