import { immediate } from '../ledger/db.js';
import { getVersion, listVersions, insertIntent, deleteIntent, type KeyRow, type VersionRow } from '../ledger/records.js';
import { denied, usage } from '../errors.js';
import { DELETION_WINDOW, formatDuration } from '../duration.js';
import { faultPoint } from '../faults.js';
import { requireKey, requireVersion } from './resolve.js';
import type { AuditScope, KeyCtx, LedgerCtx } from './context.js';

// Key and version states (SPEC section 4). Every refusal names the state, the time left in the window
// and the command that undoes it. Deletion is only ever scheduled here; purge alone destroys.

const RECENT_USE_S = 7 * 86_400;

function until(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

export function daysLeft(deadline: string | null, now: Date): number | null {
  if (!deadline) return null;
  return Math.max(0, Math.ceil((Date.parse(deadline) - now.getTime()) / 86_400_000));
}

function reread(ctx: LedgerCtx, key: KeyRow): KeyRow {
  return ctx.db.prepare('SELECT * FROM keys WHERE id = ?').get(key.id) as KeyRow;
}

export interface StateChange {
  key: KeyRow;
  version?: VersionRow;
  from: string;
  to: string;
}

/** disable / enable, of a key or of one version. */
export function setEnabled(ctx: LedgerCtx, scope: AuditScope, ref: string, enable: boolean, version?: number): StateChange {
  const op = enable ? 'enable' : 'disable';
  return immediate(ctx.db, `${op} ${ref}`, () => {
    const key = requireKey(ctx.db, ref, scope);
    const now = ctx.now();
    const from = enable ? 'disabled' : 'enabled';
    const to = enable ? 'enabled' : 'disabled';
    if (version === undefined) {
      if (key.state === to) return { key, from: key.state, to };
      if (key.state !== from) {
        const left = daysLeft(key.destroy_after, now);
        const way = key.state === 'pending-deletion' ? ` (${left} days left): restore it first with kmsctl restore ${key.alias}${enable ? ' --enable' : ''}` : '';
        throw denied(`key ${key.alias} is ${key.state}${way}; it cannot be ${op}d`, { reason: `key-${key.state}` });
      }
      ctx.db.prepare('UPDATE keys SET state = ?, updated_at = ? WHERE id = ?').run(to, now.toISOString(), key.id);
      return { key: reread(ctx, key), from, to };
    }
    const v = requireVersion(ctx.db, key, version, scope);
    if (!enable && v.version === key.primary_version) {
      throw usage(`version ${v.version} is the primary version of ${key.alias}: rotate first (kmsctl rotate ${key.alias}) or disable the whole key`, { reason: 'primary-version' });
    }
    if (v.state === to) return { key, version: v, from: v.state, to };
    if (v.state !== from) {
      const way = v.state === 'pending-destruction' ? `: restore it first with kmsctl restore ${key.alias} --version ${v.version}` : '';
      throw denied(`version ${v.version} of ${key.alias} is ${v.state}${way}; it cannot be ${op}d`, { reason: `version-${v.state}` });
    }
    ctx.db.prepare('UPDATE versions SET state = ? WHERE key_id = ? AND version = ?').run(to, key.id, v.version);
    return { key, version: getVersion(ctx.db, key.id, v.version), from, to };
  });
}

export interface DeleteInput {
  windowS?: number;
  version?: number;
  force?: boolean;
}

function lastUse(versions: VersionRow[]): VersionRow | undefined {
  return versions.filter((v) => v.last_used_at).sort((a, b) => Date.parse(b.last_used_at!) - Date.parse(a.last_used_at!))[0];
}

interface DeletionPlan {
  key: KeyRow;
  /** The version to schedule, for delete --version. */
  version?: VersionRow;
  windowS: number;
  destroyAfter: string;
  /** The most recent use within the guard's 7 days, when there is one. */
  recentUse?: VersionRow;
}

/**
 * Every check a delete makes, changing nothing: the key's or version's state, the primary, and the
 * recent use that only --force gets past (noted in the audit details either way). Made under the write
 * lock by scheduleDeletion, and when a two-person request is made, so that a request the delete itself
 * would refuse is refused at once rather than after its approvals.
 */
function planDeletion(ctx: LedgerCtx, scope: AuditScope, ref: string, d: DeleteInput): DeletionPlan {
  const key = requireKey(ctx.db, ref, scope);
  const now = ctx.now();
  const windowS = d.windowS ?? key.deletion_window_s ?? DELETION_WINDOW.default;
  scope.details.window = formatDuration(windowS);
  if (d.force) scope.details.force = true;
  const destroyAfter = until(now, windowS);
  const versions = d.version === undefined ? listVersions(ctx.db, key.id) : [requireVersion(ctx.db, key, d.version, scope)];
  if (d.version !== undefined && d.version === key.primary_version) {
    throw usage(`version ${d.version} is the primary version of ${key.alias}: rotate first (kmsctl rotate ${key.alias}), then delete the old version`, { reason: 'primary-version' });
  }
  if (d.version === undefined && key.state !== 'enabled' && key.state !== 'disabled') {
    const left = daysLeft(key.destroy_after, now);
    throw denied(`key ${key.alias} is ${key.state}${left !== null ? ` (destroyed after ${key.destroy_after}, ${left} days left)` : ''}; it cannot be deleted again`, { reason: `key-${key.state}`, hint: key.state === 'pending-deletion' ? `undo with kmsctl restore ${key.alias}` : undefined });
  }
  const v = versions[0];
  if (d.version !== undefined && v.state !== 'enabled' && v.state !== 'disabled') {
    throw denied(`version ${v.version} of ${key.alias} is ${v.state}; it cannot be deleted again`, { reason: `version-${v.state}`, hint: v.state === 'pending-destruction' ? `undo with kmsctl restore ${key.alias} --version ${v.version}` : undefined });
  }
  const used = lastUse(versions);
  const recentUse = used && now.getTime() - Date.parse(used.last_used_at!) < RECENT_USE_S * 1000 ? used : undefined;
  if (recentUse) {
    scope.details.lastUsedAt = recentUse.last_used_at;
    scope.details.lastUsedBy = recentUse.last_used_op;
  }
  return { key, version: d.version === undefined ? undefined : v, windowS, destroyAfter, recentUse };
}

function recentlyUsed(key: KeyRow, d: DeleteInput, u: VersionRow): Error {
  const what = d.version === undefined ? `key ${key.alias}` : `version ${d.version} of ${key.alias}`;
  return denied(`${what} was used ${u.last_used_at} by ${u.last_used_op} (version ${u.version}), within the last 7 days; deleting it could break whoever still uses it`, { reason: 'recently-used', hint: 'check kmsctl audit --key, then pass --force to delete anyway' });
}

/** The checks of a delete without the delete (for a two-person request): throws what the delete would; returns the recent use --force gets past. */
export function checkDeletion(ctx: LedgerCtx, scope: AuditScope, ref: string, d: DeleteInput): { recentUse?: VersionRow } {
  const p = planDeletion(ctx, scope, ref, d);
  if (p.recentUse && !d.force) throw recentlyUsed(p.key, d, p.recentUse);
  return { recentUse: p.recentUse };
}

/** Schedules destruction after a window (7d..30d); refuses keys used in the last 7 days unless forced. */
export function scheduleDeletion(ctx: LedgerCtx, scope: AuditScope, ref: string, d: DeleteInput): StateChange & { destroyAfter: string; windowS: number } {
  const res = immediate(ctx.db, `delete ${ref}`, () => {
    const p = planDeletion(ctx, scope, ref, d);
    if (p.recentUse && !d.force) return { refused: { key: p.key, use: p.recentUse } };
    const { key, windowS, destroyAfter } = p;
    const now = ctx.now();
    if (!p.version) {
      ctx.db.prepare("UPDATE keys SET state = 'pending-deletion', destroy_after = ?, updated_at = ? WHERE id = ?").run(destroyAfter, now.toISOString(), key.id);
      return { change: { key: reread(ctx, key), from: key.state, to: 'pending-deletion', destroyAfter, windowS } };
    }
    const v = p.version;
    ctx.db.prepare("UPDATE versions SET state = 'pending-destruction', destroy_after = ? WHERE key_id = ? AND version = ?").run(destroyAfter, key.id, v.version);
    return { change: { key, version: getVersion(ctx.db, key.id, v.version), from: v.state, to: 'pending-destruction', destroyAfter, windowS } };
  });
  if ('refused' in res && res.refused) throw recentlyUsed(res.refused.key, d, res.refused.use);
  faultPoint('delete:after-ledger');
  return res.change!;
}

/**
 * Every check a restore makes, changing nothing: the state, and that the window has not passed. Made
 * by restore under the write lock, and when a two-person request for a restore is made.
 */
export function checkRestore(ctx: LedgerCtx, scope: AuditScope, ref: string, o: { version?: number }): { key: KeyRow; version?: VersionRow } {
  const key = requireKey(ctx.db, ref, scope);
  const now = ctx.now();
  if (o.version === undefined) {
    if (key.state === 'destroyed') throw denied(`key ${key.alias} was destroyed: it cannot be restored`, { reason: 'key-destroyed' });
    if (key.state !== 'pending-deletion') throw denied(`key ${key.alias} is ${key.state}, not pending deletion: there is nothing to restore`, { reason: `key-${key.state}` });
    if (Date.parse(key.destroy_after!) <= now.getTime()) {
      throw denied(`the deletion window of ${key.alias} ended at ${key.destroy_after}: it is due for purge and can no longer be restored`, { reason: 'window-passed' });
    }
    return { key };
  }
  const v = requireVersion(ctx.db, key, o.version, scope);
  if (v.state === 'destroyed') throw denied(`version ${v.version} of ${key.alias} was destroyed: it cannot be restored`, { reason: 'version-destroyed' });
  if (v.state !== 'pending-destruction') throw denied(`version ${v.version} of ${key.alias} is ${v.state}, not pending destruction: there is nothing to restore`, { reason: `version-${v.state}` });
  if (Date.parse(v.destroy_after!) <= now.getTime()) {
    throw denied(`the destruction window of ${key.alias} v${v.version} ended at ${v.destroy_after}: it can no longer be restored`, { reason: 'window-passed' });
  }
  return { key, version: v };
}

/** pending-deletion -> disabled (or enabled with --enable), only inside the window. */
export function restore(ctx: LedgerCtx, scope: AuditScope, ref: string, o: { version?: number; enable?: boolean }): StateChange {
  const r = immediate(ctx.db, `restore ${ref}`, () => {
    const { key, version: v } = checkRestore(ctx, scope, ref, o);
    const now = ctx.now();
    const to = o.enable ? 'enabled' : 'disabled';
    if (!v) {
      ctx.db.prepare('UPDATE keys SET state = ?, destroy_after = NULL, updated_at = ? WHERE id = ?').run(to, now.toISOString(), key.id);
      return { key: reread(ctx, key), from: 'pending-deletion', to };
    }
    ctx.db.prepare('UPDATE versions SET state = ?, destroy_after = NULL WHERE key_id = ? AND version = ?').run(to, key.id, v.version);
    return { key, version: getVersion(ctx.db, key.id, v.version), from: 'pending-destruction', to };
  });
  faultPoint('restore:after-ledger');
  return r;
}

export interface DueItem {
  keyId: string;
  alias: string;
  version: number;
  ckaId: Buffer;
  purpose: string;
  destroyAfter: string;
  wholeKey: boolean;
}

/** What purge would destroy now: versions of keys past their window, and versions past theirs. */
export function dueForPurge(ctx: LedgerCtx): DueItem[] {
  const now = ctx.now().toISOString();
  const rows = ctx.db
    .prepare(
      `SELECT k.id AS keyId, k.alias, v.version, v.cka_id AS ckaId, k.purpose,
              CASE WHEN k.state = 'pending-deletion' THEN k.destroy_after ELSE v.destroy_after END AS destroyAfter,
              (k.state = 'pending-deletion') AS wholeKey
         FROM versions v JOIN keys k ON k.id = v.key_id
        WHERE v.state != 'destroyed'
          AND ((k.state = 'pending-deletion' AND k.destroy_after <= ?)
            OR (v.state = 'pending-destruction' AND v.destroy_after <= ?))
        ORDER BY k.alias, v.version`,
    )
    .all(now, now) as Array<Omit<DueItem, 'wholeKey'> & { wholeKey: number }>;
  return rows.map((r) => ({ ...r, wholeKey: r.wholeKey === 1 }));
}

/** Destroys one due version: intent, token objects, then the ledger tombstone. Re-checks the deadline under the lock. */
export function purgeOne(ctx: KeyCtx, item: DueItem): boolean {
  const intentId = immediate(ctx.db, 'recording the purge intent', () => {
    const still = dueForPurge(ctx).some((d) => d.keyId === item.keyId && d.version === item.version);
    if (!still) return null;
    return insertIntent(ctx.db, { op: 'purge', key_id: item.keyId, alias: null, version: null, cka_id: item.ckaId, data: JSON.stringify({ version: item.version, wholeKey: item.wholeKey }), created_at: ctx.now().toISOString(), pid: process.pid });
  });
  if (intentId === null) return false;
  faultPoint('purge:after-intent');
  destroyObjects(ctx, item.ckaId);
  faultPoint('purge:after-destroy');
  completePurge(ctx, item.keyId, item.version, item.wholeKey, intentId);
  faultPoint('purge:after-ledger');
  return true;
}

/** Every key object with this CKA_ID (secret, private, public); none left is fine. */
export function destroyObjects(ctx: KeyCtx, ckaId: Buffer): number {
  let n = 0;
  for (const cls of ['secret', 'private', 'public'] as const) {
    for (const h of ctx.token.findAll(cls, ckaId)) {
      ctx.token.destroy(h);
      n++;
    }
  }
  return n;
}

export function completePurge(ctx: LedgerCtx, keyId: string, version: number, wholeKey: boolean, intentId: number): void {
  const at = ctx.now().toISOString();
  immediate(ctx.db, 'completing the purge', () => {
    ctx.db.prepare("UPDATE versions SET state = 'destroyed', destroyed_at = ? WHERE key_id = ? AND version = ?").run(at, keyId, version);
    if (wholeKey) {
      const left = ctx.db.prepare("SELECT COUNT(*) AS n FROM versions WHERE key_id = ? AND state != 'destroyed'").get(keyId) as { n: number };
      if (left.n === 0) ctx.db.prepare("UPDATE keys SET state = 'destroyed', updated_at = ? WHERE id = ?").run(at, keyId);
    }
    deleteIntent(ctx.db, intentId);
  });
}
