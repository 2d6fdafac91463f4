import { startTimer } from '../clock.js';
import type { Db } from '../ledger/db.js';
import { immediate } from '../ledger/db.js';
import { recordUse } from '../ledger/records.js';
import { KmsError } from '../errors.js';
import type { AuditScope } from '../keys/context.js';
import { appendAuditInTx, type Actor, type Sealer } from './append.js';

function errorCodeOf(e: unknown): string {
  if (e instanceof KmsError) return e.reason ?? e.code;
  return 'internal';
}

/**
 * Runs one operation and writes its audit record, success or failure, in one transaction with the
 * use counts of the versions it used. A record is never skipped because the operation failed. With a
 * token session (sealer), the record is sealed in that same transaction.
 */
export async function audited<T>(db: Db, who: Actor, command: string, scope: AuditScope, now: () => Date, fn: () => T | Promise<T>, sealer?: Sealer): Promise<T> {
  const t0 = startTimer();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    const failure = {
      command,
      keyId: scope.keyId,
      alias: scope.alias,
      version: scope.version,
      outcome: 'failure' as const,
      errorCode: errorCodeOf(e),
      durationMs: t0(),
      details: scope.details,
    };
    try {
      immediate(db, 'writing the audit record', () => appendAuditInTx(db, who, [failure], now(), sealer));
    } catch {
      // The operation's own error is the one the operator needs; a busy ledger must not hide it.
    }
    throw e;
  }
  const at = now();
  immediate(db, 'writing the audit record', () => {
    for (const u of scope.uses) recordUse(db, u.keyId, u.version, command, at.toISOString(), u.count);
    appendAuditInTx(db, who, [{ command, keyId: scope.keyId, alias: scope.alias, version: scope.version, outcome: 'success', durationMs: t0(), details: scope.details }], at, sealer);
  });
  return result;
}
