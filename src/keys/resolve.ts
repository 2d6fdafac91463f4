import type { Db } from '../ledger/db.js';
import { findKey, getVersion, type KeyRow, type VersionRow } from '../ledger/records.js';
import { notFound, denied, usage } from '../errors.js';
import { aSpec, type Purpose } from './specs.js';
import { quote } from '../quote.js';
import type { AuditScope } from './context.js';

export function requireKey(db: Db, ref: string, scope?: AuditScope): KeyRow {
  const key = findKey(db, ref);
  if (!key) {
    if (scope) scope.alias = ref;
    throw notFound(`no key ${quote(ref)} in the ledger`, { hint: 'list keys with kmsctl list --all', reason: 'key-not-found' });
  }
  if (scope) {
    scope.keyId = key.id;
    scope.alias = key.alias;
    scope.authorize?.(key);
  }
  return key;
}

export function requireVersion(db: Db, key: KeyRow, version: number, scope?: AuditScope): VersionRow {
  const v = getVersion(db, key.id, version);
  if (scope) scope.version = version;
  if (!v) throw notFound(`key ${key.alias} has no version ${version} (versions 1..${key.primary_version} exist)`, { reason: 'version-not-found' });
  return v;
}

function daysLeft(until: string | null, now: Date): string {
  if (!until) return '';
  const ms = Date.parse(until) - now.getTime();
  const days = Math.max(0, Math.ceil(ms / 86_400_000));
  return `, destroyed after ${until} (${days} day${days === 1 ? '' : 's'} left)`;
}

/** The key must be enabled: its state decides, and the message names the way out. */
export function requireEnabled(key: KeyRow, op: string, now: Date): void {
  if (key.state === 'enabled') return;
  const way =
    key.state === 'disabled'
      ? `enable it with kmsctl enable ${key.alias}`
      : key.state === 'pending-deletion'
        ? `restore it with kmsctl restore ${key.alias}`
        : 'a destroyed key cannot come back';
  throw denied(`key ${key.alias} is ${key.state}${key.state === 'pending-deletion' ? daysLeft(key.destroy_after, now) : ''}: it cannot ${doing(op)}`, { hint: way, reason: `key-${key.state}` });
}

export function requireVersionEnabled(key: KeyRow, v: VersionRow, op: string, now: Date): void {
  if (v.state === 'enabled') return;
  const way =
    v.state === 'disabled'
      ? `enable it with kmsctl enable ${key.alias} --version ${v.version}`
      : v.state === 'pending-destruction'
        ? `restore it with kmsctl restore ${key.alias} --version ${v.version}`
        : 'a destroyed version cannot come back';
  throw denied(`version ${v.version} of ${key.alias} is ${v.state}${v.state === 'pending-destruction' ? daysLeft(v.destroy_after, now) : ''}: it cannot ${doing(op)}`, { hint: way, reason: `version-${v.state}` });
}

const NEEDS: Record<Purpose, string> = { wrap: 'an aes-256 key', mac: 'an hmac-sha256 key', sign: 'a signing key (ec-*, ed25519, rsa-*)' };

/** An operation as the end of "it cannot ...": the datakey command makes data keys. */
const doing = (op: string): string => (op === 'datakey' ? 'make data keys' : op);

export function requirePurpose(key: KeyRow, purpose: Purpose, op: string): void {
  if (key.purpose !== purpose) {
    throw usage(`key ${key.alias} is ${aSpec(key.spec)} key for ${key.purpose}; ${op} needs ${NEEDS[purpose]}`, { reason: 'wrong-purpose' });
  }
}

/** Resolve a key for a use: exists, right purpose, enabled, and the version (primary unless given) enabled. */
export function keyForUse(db: Db, ref: string, purpose: Purpose, op: string, now: Date, scope: AuditScope, version?: number): { key: KeyRow; ver: VersionRow } {
  const key = requireKey(db, ref, scope);
  requirePurpose(key, purpose, op);
  requireEnabled(key, op, now);
  const ver = requireVersion(db, key, version ?? key.primary_version, scope);
  requireVersionEnabled(key, ver, op, now);
  return { key, ver };
}
