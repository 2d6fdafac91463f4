import type { Db } from '../ledger/db.js';
import type { Token } from '../token/token.js';

/** What a use-case needs: the ledger, the token (open, logged in) and a clock. */
export interface KeyCtx {
  db: Db;
  token: Token;
  now: () => Date;
}

/** Ledger-only use-cases (list, show without token, verify, public-key). */
export interface LedgerCtx {
  db: Db;
  now: () => Date;
}

/**
 * What a use-case tells the audit trail about the operation it ran: filled in as the key and version
 * are resolved, so a failure half way is still recorded against the right key.
 */
export interface AuditScope {
  keyId?: string;
  alias?: string;
  version?: number;
  details: Record<string, unknown>;
  /** Versions used, so their use count and last use move in the same transaction as the audit record. */
  uses: Array<{ keyId: string; version: number; count: number }>;
  /**
   * Set by the runtime when a policy is active: called with every key the operation resolves, before
   * the token is touched; throws `denied` when the actor may not run this command on that key.
   */
  authorize?: (key: { id?: string; alias: string }) => void;
}

export function newScope(): AuditScope {
  return { details: {}, uses: [] };
}
