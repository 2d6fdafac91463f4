import { createHash } from 'node:crypto';

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

export function encodeRecord(r: AuditFields, prevHash: Buffer): Buffer {
  const arr = [1, r.seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details, prevHash.toString('hex')];
  return Buffer.from(JSON.stringify(arr), 'utf8');
}

export function recordHash(r: AuditFields, prevHash: Buffer): Buffer {
  return createHash('sha256').update(encodeRecord(r, prevHash)).digest();
}
