import type { Db } from './db.js';
import type { Spec, Purpose } from '../keys/specs.js';

export type KeyState = 'enabled' | 'disabled' | 'pending-deletion' | 'destroyed';
export type VersionState = 'enabled' | 'disabled' | 'pending-destruction' | 'destroyed';

export interface KeyRow {
  id: string;
  alias: string;
  spec: Spec;
  purpose: Purpose;
  state: KeyState;
  primary_version: number;
  created_at: string;
  updated_at: string;
  rotation_period_s: number | null;
  deletion_window_s: number | null;
  description: string | null;
  labels: string;
  exportable: number;
  destroy_after: string | null;
  last_rotated_at: string;
}

export interface VersionRow {
  key_id: string;
  version: number;
  state: VersionState;
  cka_id: Buffer;
  public_key: Buffer | null;
  created_at: string;
  destroy_after: string | null;
  destroyed_at: string | null;
  use_count: number;
  last_used_at: string | null;
  last_used_op: string | null;
}

export interface IntentRow {
  id: number;
  op: string;
  key_id: string;
  alias: string | null;
  version: number | null;
  cka_id: Buffer | null;
  data: string;
  created_at: string;
  pid: number;
}

/** Key lookups: by id (k_...) or alias. */
export function findKey(db: Db, ref: string): KeyRow | undefined {
  const byId = db.prepare('SELECT * FROM keys WHERE id = ?').get(ref) as KeyRow | undefined;
  return byId ?? (db.prepare('SELECT * FROM keys WHERE alias = ?').get(ref) as KeyRow | undefined);
}

export interface KeyFilter {
  includeDestroyed: boolean;
  state?: string;
  /** Keys whose alias sorts after this one (the next page). */
  after?: string;
  limit?: number;
}

/** Keys in alias order, filtered and paged in SQL (the alias index serves the order and the page). */
export function listKeys(db: Db, f: KeyFilter): KeyRow[] {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (f.state !== undefined) {
    where.push('state = ?');
    params.push(f.state);
  } else if (!f.includeDestroyed) where.push("state != 'destroyed'");
  if (f.after !== undefined) {
    where.push('alias > ?');
    params.push(f.after);
  }
  if (f.limit !== undefined) params.push(f.limit);
  const sql = `SELECT * FROM keys ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY alias${f.limit !== undefined ? ' LIMIT ?' : ''}`;
  return db.prepare(sql).all(...params) as KeyRow[];
}

export function getVersion(db: Db, keyId: string, version: number): VersionRow | undefined {
  return db.prepare('SELECT * FROM versions WHERE key_id = ? AND version = ?').get(keyId, version) as VersionRow | undefined;
}

export function listVersions(db: Db, keyId: string): VersionRow[] {
  return db.prepare('SELECT * FROM versions WHERE key_id = ? ORDER BY version').all(keyId) as VersionRow[];
}

export function insertKey(db: Db, k: KeyRow): void {
  db.prepare(
    `INSERT INTO keys (id, alias, spec, purpose, state, primary_version, created_at, updated_at, rotation_period_s,
       deletion_window_s, description, labels, exportable, destroy_after, last_rotated_at)
     VALUES (@id, @alias, @spec, @purpose, @state, @primary_version, @created_at, @updated_at, @rotation_period_s,
       @deletion_window_s, @description, @labels, @exportable, @destroy_after, @last_rotated_at)`,
  ).run(k);
}

export function insertVersion(db: Db, v: Pick<VersionRow, 'key_id' | 'version' | 'state' | 'cka_id' | 'public_key' | 'created_at'>): void {
  db.prepare(
    `INSERT INTO versions (key_id, version, state, cka_id, public_key, created_at)
     VALUES (@key_id, @version, @state, @cka_id, @public_key, @created_at)`,
  ).run(v);
}

export function recordUse(db: Db, keyId: string, version: number, op: string, at: string, count = 1): void {
  db.prepare('UPDATE versions SET use_count = use_count + ?, last_used_at = ?, last_used_op = ? WHERE key_id = ? AND version = ?').run(count, at, op, keyId, version);
}

export function insertIntent(db: Db, i: Omit<IntentRow, 'id'>): number {
  return Number(
    db.prepare('INSERT INTO intents (op, key_id, alias, version, cka_id, data, created_at, pid) VALUES (@op, @key_id, @alias, @version, @cka_id, @data, @created_at, @pid)').run(i).lastInsertRowid,
  );
}

export function deleteIntent(db: Db, id: number): void {
  db.prepare('DELETE FROM intents WHERE id = ?').run(id);
}

export function listIntents(db: Db): IntentRow[] {
  return db.prepare('SELECT * FROM intents ORDER BY id').all() as IntentRow[];
}

export function getMeta(db: Db, name: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined)?.value;
}

export function setMeta(db: Db, name: string, value: string): void {
  db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value').run(name, value);
}

export interface RolledBackRow {
  key_id: string;
  version: number;
  op: string;
  rolled_back_at: string;
  reason: string;
}

/** A version number a rotation reserved and gave up: kept so that it is never handed out again. */
export function recordRolledBack(db: Db, r: RolledBackRow): void {
  db.prepare('INSERT OR IGNORE INTO rolled_back_versions (key_id, version, op, rolled_back_at, reason) VALUES (@key_id, @version, @op, @rolled_back_at, @reason)').run(r);
}

export function listRolledBack(db: Db, keyId: string): RolledBackRow[] {
  return db.prepare('SELECT * FROM rolled_back_versions WHERE key_id = ? ORDER BY version').all(keyId) as RolledBackRow[];
}
