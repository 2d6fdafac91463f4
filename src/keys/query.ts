import { listKeys, listRolledBack, listVersions, type KeyFilter, type KeyRow, type VersionRow } from '../ledger/records.js';
import { pemFromSpki } from '../crypto/index.js';
import { badData, usage } from '../errors.js';
import { requireKey, requireVersion } from './resolve.js';
import type { LedgerCtx } from './context.js';


export interface KeyView {
  id: string;
  alias: string;
  spec: string;
  purpose: string;
  state: string;
  primaryVersion: number;
  createdAt: string;
  lastRotatedAt: string;
  rotationPeriodSeconds: number | null;
  deletionWindowSeconds: number | null;
  destroyAfter: string | null;
  description: string | null;
  labels: Record<string, string>;
  exportable: boolean;
}

export function keyView(k: KeyRow): KeyView {
  return {
    id: k.id,
    alias: k.alias,
    spec: k.spec,
    purpose: k.purpose,
    state: k.state,
    primaryVersion: k.primary_version,
    createdAt: k.created_at,
    lastRotatedAt: k.last_rotated_at,
    rotationPeriodSeconds: k.rotation_period_s,
    deletionWindowSeconds: k.deletion_window_s,
    destroyAfter: k.destroy_after,
    description: k.description,
    labels: JSON.parse(k.labels) as Record<string, string>,
    exportable: k.exportable === 1,
  };
}

export function list(ctx: LedgerCtx, f: KeyFilter): KeyView[] {
  return listKeys(ctx.db, f).map(keyView);
}

/** Token attributes that tell where a key came from and what it may do (read live from the token). */
export interface ObjectAttributes {
  class: 'secret' | 'private' | 'public';
  present: boolean;
  local?: boolean;
  sensitive?: boolean;
  extractable?: boolean;
  alwaysSensitive?: boolean;
  neverExtractable?: boolean;
  usage?: string[];
}

export interface VersionView {
  version: number;
  state: string;
  primary: boolean;
  ckaId: string;
  label: string;
  createdAt: string;
  destroyAfter: string | null;
  useCount: number;
  lastUsedAt: string | null;
  lastUsedBy: string | null;
  token?: ObjectAttributes[];
}

/** Reads one object's attributes from the token (src/keys/provenance.ts); absent for ledger-only views. */
export type AttributeReader = (cls: 'secret' | 'private' | 'public', ckaId: Buffer) => ObjectAttributes;

export function versionView(key: KeyRow, v: VersionRow, read?: AttributeReader): VersionView {
  const view: VersionView = {
    version: v.version,
    state: v.state,
    primary: v.version === key.primary_version,
    ckaId: v.cka_id.toString('hex'),
    label: `${key.alias}/v${v.version}`,
    createdAt: v.created_at,
    destroyAfter: v.destroy_after,
    useCount: v.use_count,
    lastUsedAt: v.last_used_at,
    lastUsedBy: v.last_used_op,
  };
  if (read && v.state !== 'destroyed') {
    const classes = key.purpose === 'sign' ? (['private', 'public'] as const) : (['secret'] as const);
    view.token = classes.map((c) => read(c, v.cka_id));
  }
  return view;
}

/**
 * A version number the key has no version for. Numbers are never reused: a rotation that was rolled
 * back gives its number up for good, and one still being made holds it.
 */
export interface UnusedVersionView {
  version: number;
  why: 'rolled-back' | 'in-progress' | 'unrecorded';
  at: string | null;
  reason: string | null;
}

function unusedVersions(ctx: LedgerCtx, key: KeyRow, versions: VersionRow[]): UnusedVersionView[] {
  const have = new Set(versions.map((v) => v.version));
  const rolledBack = new Map(listRolledBack(ctx.db, key.id).map((r) => [r.version, r]));
  const reserved = new Map((ctx.db.prepare('SELECT version, created_at FROM intents WHERE key_id = ? AND version IS NOT NULL').all(key.id) as Array<{ version: number; created_at: string }>).map((i) => [i.version, i]));
  const top = Math.max(0, ...have, ...rolledBack.keys(), ...reserved.keys());
  const out: UnusedVersionView[] = [];
  for (let n = 1; n <= top; n++) {
    if (have.has(n)) continue;
    const r = rolledBack.get(n);
    const i = reserved.get(n);
    if (r) out.push({ version: n, why: 'rolled-back', at: r.rolled_back_at, reason: `${r.op} rolled back: ${r.reason}` });
    else if (i) out.push({ version: n, why: 'in-progress', at: i.created_at, reason: 'reserved by a rotation that has not completed (kmsctl doctor tells whether it is still running)' });
    // Ledgers from before rolled-back numbers were recorded: a gap can only be a rotation that never completed.
    else out.push({ version: n, why: 'unrecorded', at: null, reason: 'a rotation that never completed (rolled back before rolled-back numbers were recorded)' });
  }
  return out;
}

export function show(ctx: LedgerCtx, ref: string, read?: AttributeReader): KeyView & { versions: VersionView[]; unusedVersions: UnusedVersionView[] } {
  const key = requireKey(ctx.db, ref);
  const versions = listVersions(ctx.db, key.id);
  return { ...keyView(key), versions: versions.map((v) => versionView(key, v, read)), unusedVersions: unusedVersions(ctx, key, versions) };
}

export function publicKeyPem(ctx: LedgerCtx, ref: string, version?: number): { pem: string; key: KeyRow; version: number } {
  const key = requireKey(ctx.db, ref);
  if (key.purpose !== 'sign') throw usage(`key ${key.alias} is a symmetric ${key.spec} key: it has no public key`, { reason: 'wrong-purpose' });
  const v = requireVersion(ctx.db, key, version ?? key.primary_version);
  if (!v.public_key) throw badData(`version ${v.version} of ${key.alias} has no public key in the ledger`);
  return { pem: pemFromSpki(v.public_key), key, version: v.version };
}
