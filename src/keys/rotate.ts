import { immediate, type Db } from '../ledger/db.js';
import { insertIntent, deleteIntent, insertVersion, recordRolledBack, type KeyRow } from '../ledger/records.js';
import { KmsError } from '../errors.js';
import { newCkaId } from './ids.js';
import { requireEnabled, requireKey } from './resolve.js';
import { discardVersion, generateVersion } from './create.js';
import type { AuditScope, KeyCtx } from './context.js';
import { faultPoint } from '../faults.js';

export interface RotateResult {
  /** The key as the completed rotation left it (primary_version is the key's primary now). */
  key: KeyRow;
  version: number;
  /** The primary when this rotation reserved its number, read under that same write lock: always below `version`. */
  previous: number;
  /** False when a concurrent rotation to a higher version completed first: that version stays primary. */
  becamePrimary: boolean;
}

export interface RotateCompletion {
  /** The key's primary version once this version is in the ledger. */
  primary: number;
  becamePrimary: boolean;
  /** The primary just before this version joined the ledger. */
  before: number;
}

/**
 * The ledger half of a rotation. Rotations can complete out of order (concurrent jobs, or doctor
 * completing one that was killed while later ones went through): the version joins the ledger either
 * way, but it becomes primary, and the key counts as rotated (last_rotated_at), only when it is newer
 * than the primary at that moment. So the primary never goes back and the rotation clock never moves
 * for a version that serves nothing new.
 */
export function completeRotate(db: Db, keyId: string, version: number, ckaId: Buffer, publicKey: Buffer | null, intentId: number, at: string): RotateCompletion {
  return immediate(db, 'completing the rotation', () => {
    const cur = (db.prepare('SELECT primary_version FROM keys WHERE id = ?').get(keyId) as { primary_version: number }).primary_version;
    insertVersion(db, { key_id: keyId, version, state: 'enabled', cka_id: ckaId, public_key: publicKey, created_at: at });
    const becamePrimary = version > cur;
    if (becamePrimary) db.prepare('UPDATE keys SET primary_version = ?, last_rotated_at = ?, updated_at = ? WHERE id = ?').run(version, at, at, keyId);
    else db.prepare('UPDATE keys SET updated_at = ? WHERE id = ?').run(at, keyId);
    deleteIntent(db, intentId);
    return { primary: becamePrimary ? version : cur, becamePrimary, before: cur };
  });
}

/**
 * The next version number of a key, inside the caller's write transaction: above every version in the
 * ledger, every reserved one (an intent) and every one a rolled-back rotation gave up, so a number is
 * never handed out twice.
 */
export function nextVersion(db: Db, keyId: string): number {
  const row = db
    .prepare(
      `SELECT MAX(v) AS v FROM (SELECT MAX(version) AS v FROM versions WHERE key_id = ?
         UNION ALL SELECT MAX(version) FROM intents WHERE key_id = ? AND version IS NOT NULL
         UNION ALL SELECT MAX(version) FROM rolled_back_versions WHERE key_id = ?)`,
    )
    .get(keyId, keyId, keyId) as { v: number | null };
  return (row.v ?? 0) + 1;
}

/** Adds version N+1 and makes it primary; the number is reserved under the write lock, so concurrent rotations never collide. */
export function rotateKey(ctx: KeyCtx, scope: AuditScope, ref: string): RotateResult {
  const key = requireKey(ctx.db, ref, scope);
  requireEnabled(key, 'rotate', ctx.now());
  ctx.token.requireSpec(key.spec);
  const ckaId = newCkaId();
  // The previous primary is read in the same transaction that reserves the number: what the key's
  // primary was at the moment this rotation took its number, never a version a later one made.
  const { intentId, version, previous } = immediate(ctx.db, 'reserving a version number', () => {
    const now = ctx.db.prepare('SELECT * FROM keys WHERE id = ?').get(key.id) as KeyRow;
    requireEnabled(now, 'rotate', ctx.now());
    const version = nextVersion(ctx.db, key.id);
    const intentId = insertIntent(ctx.db, { op: 'rotate', key_id: key.id, alias: null, version, cka_id: ckaId, data: JSON.stringify({ spec: key.spec }), created_at: ctx.now().toISOString(), pid: process.pid });
    return { intentId, version, previous: now.primary_version };
  });
  scope.version = version;
  scope.details.previous = previous;

  let publicKey: Buffer | null;
  try {
    publicKey = generateVersion(ctx, key.spec, key.alias, version, ckaId, key.exportable === 1, 'rotate');
  } catch (e) {
    discardVersion(ctx, ckaId);
    const why = e instanceof KmsError ? (e.reason ?? e.code) : 'internal';
    immediate(ctx.db, 'rolling back the rotate intent', () => {
      deleteIntent(ctx.db, intentId);
      recordRolledBack(ctx.db, { key_id: key.id, version, op: 'rotate', rolled_back_at: ctx.now().toISOString(), reason: `the rotation failed before its version was complete (${why})` });
    });
    throw e;
  }
  const at = ctx.now().toISOString();
  const done = completeRotate(ctx.db, key.id, version, ckaId, publicKey, intentId, at);
  faultPoint('rotate:after-ledger');
  scope.details.primary = done.primary;
  const after: KeyRow = { ...key, primary_version: done.primary, last_rotated_at: done.becamePrimary ? at : key.last_rotated_at, updated_at: at };
  return { key: after, version, previous, becamePrimary: done.becamePrimary };
}
