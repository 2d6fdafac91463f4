import { immediate, type Db } from '../ledger/db.js';
import { findKey, insertIntent, deleteIntent, insertKey, insertVersion, type KeyRow, type VersionRow } from '../ledger/records.js';
import { exists, usage, KmsError } from '../errors.js';
import { quote } from '../quote.js';
import { faultPoint } from '../faults.js';
import { spkiFromEcPoint, spkiFromEd25519, spkiFromRsa } from '../crypto/index.js';
import { sleepMs, type GeneratedKey } from '../token/token.js';
import { PURPOSE, isSpec, type Spec, SPECS } from './specs.js';
import { checkAlias, newCkaId, newKeyId, tokenLabel } from './ids.js';
import type { AuditScope, KeyCtx } from './context.js';

export interface CreateInput {
  alias: string;
  spec: string;
  rotationPeriodS?: number;
  deletionWindowS?: number;
  description?: string;
  labels?: Record<string, string>;
  exportable?: boolean;
}

export function publicKeyOf(spec: Spec, g: GeneratedKey): Buffer | null {
  if (g.modulus && g.publicExponent) return spkiFromRsa(g.modulus, g.publicExponent);
  if (!g.ecPoint) return null;
  return spec === 'ed25519' ? spkiFromEd25519(g.ecPoint) : spkiFromEcPoint(spec as 'ec-p256' | 'ec-p384', g.ecPoint);
}

/** Writes version N of a key on the token between an intent row and the completed ledger rows. */
export function generateVersion(ctx: KeyCtx, spec: Spec, alias: string, version: number, ckaId: Buffer, exportable: boolean, step: string): Buffer | null {
  faultPoint(`${step}:after-intent`);
  const g = generateRetrying(ctx, spec, { id: ckaId, label: tokenLabel(alias, version), exportable });
  faultPoint(`${step}:after-generate`);
  return publicKeyOf(spec, g);
}

const GENERATE_ATTEMPTS = 4;

/**
 * SoftHSM's file store, caught mid-write by another process (several CI jobs rotating at once), fails
 * a generate with CKR_GENERAL_ERROR, a temporary error. The token is opened afresh, what the failed
 * attempt left under the CKA_ID is removed, and the generate is tried again, a few times, before the
 * command gives up with exit 75: a rotation should not give its version number up for a moment's
 * contention.
 */
function generateRetrying(ctx: KeyCtx, spec: Spec, o: { id: Buffer; label: string; exportable: boolean }): GeneratedKey {
  for (let attempt = 1; ; attempt++) {
    try {
      return ctx.token.generate(spec, o);
    } catch (e) {
      if (!(e instanceof KmsError && e.code === 'temporary') || attempt >= GENERATE_ATTEMPTS) throw e;
      sleepMs(20 * attempt);
      // The library's view of the store stays broken after such a failure: it is opened afresh, and
      // whatever the failed attempt may have written under this CKA_ID is removed before the next one.
      ctx.token.reopen();
      discardVersion(ctx, o.id);
    }
  }
}

/** Best effort: objects a failed generate may have left under a CKA_ID no ledger version names. */
export function discardVersion(ctx: KeyCtx, ckaId: Buffer): void {
  for (const cls of ['secret', 'private', 'public'] as const) {
    try {
      for (const h of ctx.token.findAll(cls, ckaId)) ctx.token.destroy(h);
    } catch {
      // Left for doctor, which reports it as an orphan.
    }
  }
}

/** The ledger half of a create: key row, version 1, intent gone, in one transaction. */
export function completeCreate(db: Db, key: KeyRow, ckaId: Buffer, publicKey: Buffer | null, intentId: number): void {
  immediate(db, 'completing the create', () => {
    insertKey(db, key);
    insertVersion(db, { key_id: key.id, version: 1, state: 'enabled', cka_id: ckaId, public_key: publicKey, created_at: key.created_at });
    deleteIntent(db, intentId);
  });
}

/** The alias is taken: the way out depends on the state of the key that holds it. */
function aliasTaken(key: KeyRow, alias: string): KmsError {
  if (key.state === 'destroyed') {
    const next = `${alias}-2`;
    return exists(`alias "${alias}" belongs to a destroyed key (${key.id}): its tombstone keeps the alias, which cannot be reused`, {
      reason: 'alias-destroyed',
      hint: `choose a new alias${next.length <= 64 ? `, e.g. kmsctl create ${next} --spec ${key.spec}` : ''}`,
    });
  }
  const hint =
    key.state === 'pending-deletion'
      ? `it is pending deletion: kmsctl restore ${alias} brings it back; or use another alias`
      : key.state === 'disabled'
        ? `it is disabled: kmsctl enable ${alias} brings it back; or use another alias`
        : `use another alias, or kmsctl rotate ${alias} for a new version`;
  return exists(`a key with alias "${alias}" already exists`, { hint });
}

export function createKey(ctx: KeyCtx, scope: AuditScope, input: CreateInput): { key: KeyRow; version: Pick<VersionRow, 'version' | 'cka_id'> } {
  const alias = checkAlias(input.alias);
  scope.alias = alias;
  scope.authorize?.({ alias });
  if (!isSpec(input.spec)) throw usage(`unknown spec ${quote(input.spec)} (known: ${SPECS.join(', ')})`);
  const spec = input.spec;
  scope.details.spec = spec;
  ctx.token.requireSpec(spec);

  const keyId = newKeyId();
  const ckaId = newCkaId();
  scope.keyId = keyId;
  scope.version = 1;
  const createdAt = ctx.now().toISOString();
  const key: KeyRow = {
    id: keyId,
    alias,
    spec,
    purpose: PURPOSE[spec],
    state: 'enabled',
    primary_version: 1,
    created_at: createdAt,
    updated_at: createdAt,
    rotation_period_s: input.rotationPeriodS ?? null,
    deletion_window_s: input.deletionWindowS ?? null,
    description: input.description ?? null,
    labels: JSON.stringify(input.labels ?? {}),
    exportable: input.exportable ? 1 : 0,
    destroy_after: null,
    last_rotated_at: createdAt,
  };
  // The intent carries the whole key row, so doctor --repair can complete a create that was killed.
  const intentId = immediate(ctx.db, 'recording the create intent', () => {
    const taken = findKey(ctx.db, alias);
    if (taken) throw aliasTaken(taken, alias);
    const racing = ctx.db.prepare('SELECT 1 FROM intents WHERE alias = ?').get(alias);
    if (racing) throw exists(`a key with alias "${alias}" is being created by another kmsctl`, { hint: 'if that process died, run kmsctl doctor' });
    return insertIntent(ctx.db, { op: 'create', key_id: keyId, alias, version: 1, cka_id: ckaId, data: JSON.stringify({ key }), created_at: createdAt, pid: process.pid });
  });

  let publicKey: Buffer | null;
  try {
    publicKey = generateVersion(ctx, spec, alias, 1, ckaId, input.exportable === true, 'create');
  } catch (e) {
    // The create failed: remove whatever the token may have made under this CKA_ID, then the intent,
    // so no trace of it remains.
    discardVersion(ctx, ckaId);
    immediate(ctx.db, 'rolling back the create intent', () => deleteIntent(ctx.db, intentId));
    throw e;
  }
  completeCreate(ctx.db, key, ckaId, publicKey, intentId);
  faultPoint('create:after-ledger');
  return { key, version: { version: 1, cka_id: ckaId } };
}
