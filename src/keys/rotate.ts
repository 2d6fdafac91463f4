import { immediate, type Db } from '../ledger/db.js';
import { insertIntent, deleteIntent, insertVersion, type KeyRow } from '../ledger/records.js';
import { newCkaId } from './ids.js';
import { requireEnabled, requireKey } from './resolve.js';
import { discardVersion, generateVersion } from './create.js';
import type { AuditScope, KeyCtx } from './context.js';
import { faultPoint } from '../faults.js';

export interface RotateResult {
  key: KeyRow;
  version: number;
  previous: number;
}

/** The ledger half of a rotation; concurrent rotations may complete out of order, so the highest version wins primary. */
export function completeRotate(db: Db, keyId: string, version: number, ckaId: Buffer, publicKey: Buffer | null, intentId: number, at: string): number {
  return immediate(db, 'completing the rotation', () => {
    const cur = db.prepare('SELECT primary_version FROM keys WHERE id = ?').get(keyId) as { primary_version: number };
    insertVersion(db, { key_id: keyId, version, state: 'enabled', cka_id: ckaId, public_key: publicKey, created_at: at });
    db.prepare('UPDATE keys SET primary_version = MAX(primary_version, ?), last_rotated_at = ?, updated_at = ? WHERE id = ?').run(version, at, at, keyId);
    deleteIntent(db, intentId);
    return cur.primary_version;
  });
}

/** Adds version N+1 and makes it primary; the number is reserved under the write lock, so concurrent rotations never collide. */
export function rotateKey(ctx: KeyCtx, scope: AuditScope, ref: string): RotateResult {
  const key = requireKey(ctx.db, ref, scope);
  requireEnabled(key, 'rotate', ctx.now());
  ctx.token.requireSpec(key.spec);
  const ckaId = newCkaId();
  const { intentId, version } = immediate(ctx.db, 'reserving a version number', () => {
    const row = ctx.db
      .prepare(
        `SELECT MAX(v) AS v FROM (SELECT MAX(version) AS v FROM versions WHERE key_id = ?
           UNION ALL SELECT MAX(version) FROM intents WHERE key_id = ? AND version IS NOT NULL)`,
      )
      .get(key.id, key.id) as { v: number | null };
    const version = (row.v ?? 0) + 1;
    const intentId = insertIntent(ctx.db, { op: 'rotate', key_id: key.id, alias: null, version, cka_id: ckaId, data: JSON.stringify({ spec: key.spec }), created_at: ctx.now().toISOString(), pid: process.pid });
    return { intentId, version };
  });
  scope.version = version;

  let publicKey: Buffer | null;
  try {
    publicKey = generateVersion(ctx, key.spec, key.alias, version, ckaId, key.exportable === 1, 'rotate');
  } catch (e) {
    discardVersion(ctx, ckaId);
    immediate(ctx.db, 'rolling back the rotate intent', () => deleteIntent(ctx.db, intentId));
    throw e;
  }
  const previous = completeRotate(ctx.db, key.id, version, ckaId, publicKey, intentId, ctx.now().toISOString());
  faultPoint('rotate:after-ledger');
  scope.details.previous = previous;
  return { key: { ...key, primary_version: Math.max(previous, version) }, version, previous };
}
