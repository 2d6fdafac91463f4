import type { KeyRow } from '../ledger/records.js';
import type { LedgerCtx } from './context.js';

/** When a key's rotation period runs out: last rotation + period; null without a period. */
export function rotationDueAt(lastRotatedAt: string, periodS: number | null): Date | null {
  if (periodS === null) return null;
  return new Date(Date.parse(lastRotatedAt) + periodS * 1000);
}

export function isRotationDue(key: Pick<KeyRow, 'state' | 'last_rotated_at'>, periodS: number | null, now: Date): boolean {
  const at = rotationDueAt(key.last_rotated_at, periodS);
  return key.state === 'enabled' && at !== null && at.getTime() <= now.getTime();
}

export interface DueRotation {
  keyId: string;
  alias: string;
  lastRotatedAt: string;
  periodS: number;
  dueAt: string;
}

/** Enabled keys whose rotation period has elapsed since their last rotation, most overdue first. */
export function dueForRotation(ctx: LedgerCtx): DueRotation[] {
  const now = ctx.now();
  const rows = ctx.db.prepare("SELECT * FROM keys WHERE state = 'enabled' AND rotation_period_s IS NOT NULL").all() as KeyRow[];
  return rows
    .filter((k) => isRotationDue(k, k.rotation_period_s, now))
    .map((k) => ({ keyId: k.id, alias: k.alias, lastRotatedAt: k.last_rotated_at, periodS: k.rotation_period_s!, dueAt: rotationDueAt(k.last_rotated_at, k.rotation_period_s)!.toISOString() }))
    .sort((a, b) => a.dueAt.localeCompare(b.dueAt) || a.alias.localeCompare(b.alias));
}
