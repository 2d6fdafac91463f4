import pkcs11js from 'pkcs11js';
import { listKeys, listVersions, type KeyRow, type VersionRow } from '../ledger/records.js';
import { pemFromSpki } from '../crypto/index.js';
import { badData, usage } from '../errors.js';
import { USAGE_FLAGS, type Token } from '../token/token.js';
import { requireKey, requireVersion } from './resolve.js';
import type { LedgerCtx } from './context.js';

const P = pkcs11js;

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

export function list(ctx: LedgerCtx, all: boolean): KeyView[] {
  return listKeys(ctx.db, all).map(keyView);
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

const BOOL_ATTRS: Array<[number, keyof ObjectAttributes]> = [
  [P.CKA_LOCAL, 'local'],
  [P.CKA_SENSITIVE, 'sensitive'],
  [P.CKA_EXTRACTABLE, 'extractable'],
  [P.CKA_ALWAYS_SENSITIVE, 'alwaysSensitive'],
  [P.CKA_NEVER_EXTRACTABLE, 'neverExtractable'],
];
export function objectAttributes(token: Token, cls: 'secret' | 'private' | 'public', ckaId: Buffer): ObjectAttributes {
  const klass = cls === 'secret' ? P.CKO_SECRET_KEY : cls === 'private' ? P.CKO_PRIVATE_KEY : P.CKO_PUBLIC_KEY;
  const hits = token.find([{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_ID, value: ckaId }]);
  if (hits.length !== 1) return { class: cls, present: false };
  const out: ObjectAttributes = { class: cls, present: true, usage: [] };
  const wanted = cls === 'public' ? BOOL_ATTRS.filter(([, n]) => n === 'local') : BOOL_ATTRS;
  const vals = token.attributes(hits[0], [...wanted.map(([t]) => t), ...USAGE_FLAGS[cls].map(([t]) => t)]);
  for (const [t, name] of wanted) (out as unknown as Record<string, boolean>)[name] = vals.get(t)?.[0] === 1;
  for (const [t, name] of USAGE_FLAGS[cls]) if (vals.get(t)?.[0] === 1) out.usage!.push(name);
  return out;
}

export function versionView(key: KeyRow, v: VersionRow, token?: Token): VersionView {
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
  if (token && v.state !== 'destroyed') {
    const classes = key.purpose === 'sign' ? (['private', 'public'] as const) : (['secret'] as const);
    view.token = classes.map((c) => objectAttributes(token, c, v.cka_id));
  }
  return view;
}

export function show(ctx: LedgerCtx, ref: string, token?: Token): KeyView & { versions: VersionView[] } {
  const key = requireKey(ctx.db, ref);
  return { ...keyView(key), versions: listVersions(ctx.db, key.id).map((v) => versionView(key, v, token)) };
}

export function publicKeyPem(ctx: LedgerCtx, ref: string, version?: number): { pem: string; key: KeyRow; version: number } {
  const key = requireKey(ctx.db, ref);
  if (key.purpose !== 'sign') throw usage(`key ${key.alias} is a symmetric ${key.spec} key: it has no public key`, { reason: 'wrong-purpose' });
  const v = requireVersion(ctx.db, key, version ?? key.primary_version);
  if (!v.public_key) throw badData(`version ${v.version} of ${key.alias} has no public key in the ledger`);
  return { pem: pemFromSpki(v.public_key), key, version: v.version };
}
