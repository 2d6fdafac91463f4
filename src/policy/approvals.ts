// Two-person rule: a delete, purge or restore by a member of a role that requires approvers becomes a
// pending request; other actors approve it; the approval that makes the count is the one that carries
// it out. Requests expire after 24 hours. Every check is made again under the write lock.

import { randomBytes } from 'node:crypto';
import { immediate, type Db } from '../ledger/db.js';
import { denied, notFound } from '../errors.js';
import type { ApprovableOp } from './model.js';

export const REQUEST_TTL_S = 24 * 3600;

export interface RequestRow {
  id: string;
  op: ApprovableOp;
  key_id: string | null;
  alias: string | null;
  args: string;
  required: number;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  state: 'pending' | 'approved' | 'executed' | 'failed';
  closed_at: string | null;
  closed_by: string | null;
  error_code: string | null;
}

export interface Request extends Omit<RequestRow, 'args'> {
  args: Record<string, unknown>;
  approvals: Array<{ actor: string; approvedAt: string }>;
}

function newRequestId(): string {
  return `r_${randomBytes(6).toString('hex')}`;
}

function toRequest(db: Db, r: RequestRow): Request {
  const approvals = db.prepare('SELECT actor, approved_at AS approvedAt FROM approvals WHERE request_id = ? ORDER BY approved_at, actor').all(r.id) as Request['approvals'];
  return { ...r, args: JSON.parse(r.args) as Record<string, unknown>, approvals };
}

export function getRequest(db: Db, id: string): Request | null {
  const r = db.prepare('SELECT * FROM approval_requests WHERE id = ?').get(id) as RequestRow | undefined;
  return r ? toRequest(db, r) : null;
}

export function pendingRequests(db: Db, now: Date): Request[] {
  const rows = db.prepare("SELECT * FROM approval_requests WHERE state = 'pending' AND expires_at > ? ORDER BY requested_at").all(now.toISOString()) as RequestRow[];
  return rows.map((r) => toRequest(db, r));
}

export interface NewRequest {
  op: ApprovableOp;
  keyId: string | null;
  alias: string | null;
  args: Record<string, unknown>;
  required: number;
  requestedBy: string;
}

/** Call inside the caller's transaction or on its own. */
export function createRequest(db: Db, n: NewRequest, now: Date): Request {
  const id = newRequestId();
  const expires = new Date(now.getTime() + REQUEST_TTL_S * 1000).toISOString();
  immediate(db, 'recording the approval request', () =>
    db
      .prepare(
        `INSERT INTO approval_requests (id, op, key_id, alias, args, required, requested_by, requested_at, expires_at, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
      )
      .run(id, n.op, n.keyId, n.alias, JSON.stringify(n.args), n.required, n.requestedBy, now.toISOString(), expires),
  );
  return getRequest(db, id)!;
}

function subject(r: Pick<Request, 'op' | 'alias'>): string {
  return r.alias ? `${r.op} of ${r.alias}` : r.op;
}

/** Why this actor cannot approve this request now, as the error to throw; null when they can. */
export function approvalRefusal(r: Request | null, id: string, actor: string, now: Date): Error | null {
  if (!r) return notFound(`no approval request ${id}`, { reason: 'request-not-found', hint: 'list pending requests with kmsctl requests' });
  if (r.state !== 'pending') {
    const how = r.state === 'failed' ? `failed (${r.error_code ?? 'error'})` : r.state === 'approved' ? 'being carried out' : 'carried out';
    return denied(`request ${id} (${subject(r)}) was already ${how}${r.closed_by ? ` by ${r.closed_by}` : ''}: it takes no more approvals`, { reason: 'request-closed' });
  }
  if (Date.parse(r.expires_at) <= now.getTime()) {
    return notFound(`request ${id} (${subject(r)} by ${r.requested_by}) expired at ${r.expires_at}`, { reason: 'request-expired', hint: `${r.requested_by} can ask again: requests last 24 hours` });
  }
  if (r.requested_by === actor) {
    return denied(`${actor} requested ${id} (${subject(r)}) and cannot approve it: the two-person rule needs another actor`, { reason: 'own-request' });
  }
  if (r.approvals.some((a) => a.actor === actor)) {
    return denied(`${actor} already approved ${id} (${subject(r)}): each approval must come from a different actor (${r.approvals.length} of ${r.required} so far)`, { reason: 'already-approved' });
  }
  return null;
}

/**
 * Records one approval under the write lock. When it makes the count, the request moves to
 * `approved` in the same transaction, so exactly one approver carries it out.
 */
export function recordApproval(db: Db, id: string, actor: string, now: Date): { request: Request; ready: boolean } {
  return immediate(db, 'recording the approval', () => {
    const r = getRequest(db, id);
    const refusal = approvalRefusal(r, id, actor, now);
    if (refusal) throw refusal;
    db.prepare('INSERT INTO approvals (request_id, actor, approved_at) VALUES (?, ?, ?)').run(id, actor, now.toISOString());
    const ready = r!.approvals.length + 1 >= r!.required;
    if (ready) db.prepare("UPDATE approval_requests SET state = 'approved' WHERE id = ?").run(id);
    return { request: getRequest(db, id)!, ready };
  });
}

export function closeRequest(db: Db, id: string, outcome: { ok: true } | { ok: false; errorCode: string }, by: string, now: Date): void {
  immediate(db, 'closing the approval request', () => {
    db.prepare('UPDATE approval_requests SET state = ?, closed_at = ?, closed_by = ?, error_code = ? WHERE id = ?').run(outcome.ok ? 'executed' : 'failed', now.toISOString(), by, outcome.ok ? null : outcome.errorCode, id);
  });
}
