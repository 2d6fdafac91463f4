import type { Db } from '../ledger/db.js';

// `kmsctl report`: service-level indicators drawn from the audit trail and the ledger. Pure reads.
// Operation figures cover the window [since, now]; rotation compliance and pending deletions are the
// ledger's state now. Definitions are in docs/audit-format.md ("Report").

const DAY_MS = 86_400_000;
const DUE_SOON_MS = 7 * DAY_MS;
export const SPIKE_FACTOR = 3;
export const MEDIAN_DAYS = 7;

export interface OperationStat {
  operation: string;
  count: number;
  errors: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  sumMs: number;
}

export interface KeyOperationStat {
  keyId: string | null;
  alias: string;
  operation: string;
  success: number;
  failure: number;
}

export type RotationStatus = 'on-time' | 'due' | 'overdue';

export interface RotationRow {
  keyId: string;
  alias: string;
  rotationPeriodSeconds: number;
  lastRotatedAt: string;
  dueAt: string;
  status: RotationStatus;
  /** Negative once overdue. */
  secondsUntilDue: number;
}

export interface PendingKey {
  keyId: string;
  alias: string;
  destroyAfter: string;
  secondsLeft: number;
  daysLeft: number;
}

export interface PendingVersion extends PendingKey {
  version: number;
}

export type Anomaly =
  | { kind: 'new-actor'; keyId: string; alias: string; seq: number; at: string; actor: string }
  | { kind: 'new-host'; keyId: string; alias: string; seq: number; at: string; host: string }
  | { kind: 'usage-spike'; keyId: string; alias: string; day: string; count: number; median: number };

export interface Report {
  generatedAt: string;
  since: string;
  windowSeconds: number;
  records: number;
  operations: OperationStat[];
  byKey: KeyOperationStat[];
  unwrap: { count: number; errors: number; errorRate: number; byErrorCode: Record<string, number> };
  rotation: { onTime: number; due: number; overdue: number; keys: RotationRow[] };
  pendingDeletion: { keys: PendingKey[]; versions: PendingVersion[] };
  anomalies: Anomaly[];
  audit: { lastSeq: number; unsealed: number };
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p of the values at or below it. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const dayOf = (ts: string) => ts.slice(0, 10);

interface Rec {
  seq: number;
  ts: string;
  actor: string;
  host: string;
  command: string;
  key_id: string | null;
  alias: string | null;
  outcome: string;
  error_code: string | null;
  duration_ms: number;
}

function operations(rows: Rec[]): { ops: OperationStat[]; byKey: KeyOperationStat[]; unwrap: Report['unwrap'] } {
  const byOp = new Map<string, { durations: number[]; errors: number }>();
  const byKey = new Map<string, KeyOperationStat>();
  const unwrap = { count: 0, errors: 0, errorRate: 0, byErrorCode: {} as Record<string, number> };
  for (const r of rows) {
    const o = byOp.get(r.command) ?? { durations: [], errors: 0 };
    o.durations.push(r.duration_ms);
    if (r.outcome === 'failure') o.errors++;
    byOp.set(r.command, o);
    // Operations on no key (init, doctor) are listed under the alias "".
    const k = `${r.key_id ?? ''}\u0000${r.alias ?? ''}\u0000${r.command}`;
    const s = byKey.get(k) ?? { keyId: r.key_id, alias: r.alias ?? r.key_id ?? '', operation: r.command, success: 0, failure: 0 };
    if (r.outcome === 'failure') s.failure++;
    else s.success++;
    byKey.set(k, s);
    if (r.command === 'unwrap') {
      unwrap.count++;
      if (r.outcome === 'failure') {
        unwrap.errors++;
        const code = r.error_code ?? 'unknown';
        unwrap.byErrorCode[code] = (unwrap.byErrorCode[code] ?? 0) + 1;
      }
    }
  }
  unwrap.errorRate = ratio(unwrap.errors, unwrap.count);
  unwrap.byErrorCode = Object.fromEntries(Object.entries(unwrap.byErrorCode).sort(([a], [b]) => a.localeCompare(b)));
  const ops = [...byOp.entries()]
    .map(([operation, o]) => {
      const sorted = o.durations.sort((a, b) => a - b);
      return { operation, count: sorted.length, errors: o.errors, errorRate: ratio(o.errors, sorted.length), p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), sumMs: sorted.reduce((a, b) => a + b, 0) };
    })
    .sort((a, b) => a.operation.localeCompare(b.operation));
  const keys = [...byKey.values()].sort((a, b) => a.alias.localeCompare(b.alias) || a.operation.localeCompare(b.operation));
  return { ops, byKey: keys, unwrap };
}

/**
 * Keys in use: an actor or a host that uses a key for the first time (not the key's first ever user),
 * and a day whose records for a key exceed SPIKE_FACTOR x the median of the MEDIAN_DAYS days before it
 * (days without use count as 0; a median of 0 never flags, which the first-use anomalies cover).
 */
function anomalies(db: Db, since: Date, now: Date): Anomaly[] {
  const out: Anomaly[] = [];
  const sinceIso = since.toISOString();
  const actors = new Map<string, Set<string>>();
  const hosts = new Map<string, Set<string>>();
  const daily = new Map<string, { alias: string; days: Map<string, number> }>();
  const countFrom = dayOf(new Date(since.getTime() - MEDIAN_DAYS * DAY_MS).toISOString());
  const stmt = db.prepare('SELECT seq, ts, actor, host, key_id, alias FROM audit WHERE key_id IS NOT NULL ORDER BY seq');
  for (const r of stmt.iterate() as Iterable<{ seq: number; ts: string; actor: string; host: string; key_id: string; alias: string | null }>) {
    const alias = r.alias ?? r.key_id;
    const a = actors.get(r.key_id);
    const h = hosts.get(r.key_id);
    if (!a || !h) {
      actors.set(r.key_id, new Set([r.actor]));
      hosts.set(r.key_id, new Set([r.host]));
    } else {
      if (!a.has(r.actor)) {
        a.add(r.actor);
        if (r.ts >= sinceIso) out.push({ kind: 'new-actor', keyId: r.key_id, alias, seq: r.seq, at: r.ts, actor: r.actor });
      }
      if (!h.has(r.host)) {
        h.add(r.host);
        if (r.ts >= sinceIso) out.push({ kind: 'new-host', keyId: r.key_id, alias, seq: r.seq, at: r.ts, host: r.host });
      }
    }
    const day = dayOf(r.ts);
    if (day >= countFrom) {
      const d = daily.get(r.key_id) ?? { alias, days: new Map<string, number>() };
      d.alias = alias;
      d.days.set(day, (d.days.get(day) ?? 0) + 1);
      daily.set(r.key_id, d);
    }
  }
  const first = Date.parse(`${dayOf(sinceIso)}T00:00:00Z`);
  const last = Date.parse(`${dayOf(now.toISOString())}T00:00:00Z`);
  for (const [keyId, d] of daily) {
    for (let t = first; t <= last; t += DAY_MS) {
      const day = dayOf(new Date(t).toISOString());
      const count = d.days.get(day) ?? 0;
      if (count === 0) continue;
      const before = Array.from({ length: MEDIAN_DAYS }, (_, i) => d.days.get(dayOf(new Date(t - (i + 1) * DAY_MS).toISOString())) ?? 0);
      const m = median(before);
      if (m > 0 && count > SPIKE_FACTOR * m) out.push({ kind: 'usage-spike', keyId, alias: d.alias, day, count, median: m });
    }
  }
  return out;
}

function rotation(db: Db, now: Date): Report['rotation'] {
  const rows = db.prepare("SELECT id, alias, rotation_period_s, last_rotated_at FROM keys WHERE state = 'enabled' AND rotation_period_s IS NOT NULL ORDER BY alias").all() as Array<{ id: string; alias: string; rotation_period_s: number; last_rotated_at: string }>;
  const keys = rows.map((k): RotationRow => {
    const periodMs = k.rotation_period_s * 1000;
    const due = Date.parse(k.last_rotated_at) + periodMs;
    const left = due - now.getTime();
    // "Due" is the last stretch before the period ends: 7 days, or the last tenth of a shorter period.
    const status: RotationStatus = left <= 0 ? 'overdue' : left <= Math.min(DUE_SOON_MS, periodMs / 10) ? 'due' : 'on-time';
    return { keyId: k.id, alias: k.alias, rotationPeriodSeconds: k.rotation_period_s, lastRotatedAt: k.last_rotated_at, dueAt: new Date(due).toISOString(), status, secondsUntilDue: Math.round(left / 1000) };
  });
  return { onTime: keys.filter((k) => k.status === 'on-time').length, due: keys.filter((k) => k.status === 'due').length, overdue: keys.filter((k) => k.status === 'overdue').length, keys };
}

function left(destroyAfter: string, now: Date): { secondsLeft: number; daysLeft: number } {
  const ms = Math.max(0, Date.parse(destroyAfter) - now.getTime());
  return { secondsLeft: Math.round(ms / 1000), daysLeft: Math.ceil(ms / DAY_MS) };
}

function pending(db: Db, now: Date): Report['pendingDeletion'] {
  const keys = (db.prepare("SELECT id, alias, destroy_after FROM keys WHERE state = 'pending-deletion' AND destroy_after IS NOT NULL ORDER BY destroy_after, alias").all() as Array<{ id: string; alias: string; destroy_after: string }>)
    .map((k) => ({ keyId: k.id, alias: k.alias, destroyAfter: k.destroy_after, ...left(k.destroy_after, now) }));
  const versions = (db.prepare(
    `SELECT v.key_id, k.alias, v.version, v.destroy_after FROM versions v JOIN keys k ON k.id = v.key_id
     WHERE v.state = 'pending-destruction' AND v.destroy_after IS NOT NULL ORDER BY v.destroy_after, k.alias, v.version`,
  ).all() as Array<{ key_id: string; alias: string; version: number; destroy_after: string }>)
    .map((v) => ({ keyId: v.key_id, alias: v.alias, version: v.version, destroyAfter: v.destroy_after, ...left(v.destroy_after, now) }));
  return { keys, versions };
}

export function buildReport(db: Db, since: Date, now: Date): Report {
  return db.transaction(() => {
    const rows = db.prepare('SELECT seq, ts, actor, host, command, key_id, alias, outcome, error_code, duration_ms FROM audit WHERE ts >= ? AND ts <= ? ORDER BY seq').all(since.toISOString(), now.toISOString()) as Rec[];
    const { ops, byKey, unwrap } = operations(rows);
    const last = db.prepare('SELECT MAX(seq) AS s FROM audit').get() as { s: number | null };
    const unsealed = db.prepare('SELECT COUNT(*) AS n FROM audit WHERE seal IS NULL').get() as { n: number };
    return {
      generatedAt: now.toISOString(),
      since: since.toISOString(),
      windowSeconds: Math.round((now.getTime() - since.getTime()) / 1000),
      records: rows.length,
      operations: ops,
      byKey,
      unwrap,
      rotation: rotation(db, now),
      pendingDeletion: pending(db, now),
      anomalies: anomalies(db, since, now),
      audit: { lastSeq: last.s ?? 0, unsealed: unsealed.n },
    };
  })();
}
