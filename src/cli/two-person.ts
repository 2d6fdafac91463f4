import type { Runtime } from './runtime.js';
import type { CommandResult } from './result.js';
import { requireKey } from '../keys/resolve.js';
import { checkDeletion, checkRestore, dueForPurge, purgeOne, restore, scheduleDeletion, type DueItem } from '../keys/lifecycle.js';
import type { AuditScope } from '../keys/context.js';
import type { ApprovableOp } from '../policy/model.js';
import type { Request } from '../policy/approvals.js';

// The two-person rule in the CLI: delete, purge and restore ask requestIfRequired() first; when the
// actor's role needs approvers, a pending request is recorded instead and its id printed. `approve`
// carries a request out with executeRequest(), under the approver's name and the approver's rules.

export type Target = { ref: string } | { items: Array<Pick<DueItem, 'keyId' | 'alias' | 'version'>> };

export function requestView(r: Request): Record<string, unknown> {
  return {
    id: r.id,
    op: r.op,
    keyId: r.key_id,
    alias: r.alias,
    args: r.args,
    state: r.state,
    required: r.required,
    approvals: r.approvals,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
  };
}

export function requestSubject(r: Pick<Request, 'op' | 'alias' | 'args'>): string {
  const version = typeof r.args.version === 'number' ? ` v${r.args.version}` : '';
  if (r.op === 'purge') {
    const items = (r.args.items as unknown[] | undefined) ?? [];
    return `purge of ${items.length} key version(s)`;
  }
  return `${r.op} of ${r.alias}${version}`;
}

/**
 * The checks the operation itself makes, run when the request is made: a request that the operation
 * would refuse now (a key pending deletion, a version past its window, a key used within the last 7
 * days without --force) is refused at once, with the same exit code, instead of waiting for approvals
 * only to fail. A --force is carried in the request's args and noted in the audit details here.
 * Purge needs none: its items are what is past its window at this moment.
 */
function precheck(rt: Runtime, op: ApprovableOp, ref: string, args: Record<string, unknown>, scope: AuditScope): string | undefined {
  const version = typeof args.version === 'number' ? args.version : undefined;
  if (op === 'delete') {
    const windowS = typeof args.windowS === 'number' ? args.windowS : undefined;
    const { recentUse } = checkDeletion(rt.ledgerCtx(), scope, ref, { windowS, version, force: args.force === true });
    return recentUse ? `it was used ${recentUse.last_used_at} by ${recentUse.last_used_op} (version ${recentUse.version}); --force takes the delete past the recent-use guard` : undefined;
  }
  if (op === 'restore') checkRestore(rt.ledgerCtx(), scope, ref, { version });
  return undefined;
}

/** With rules active and a role that needs approvers for `op`: records the request and returns what to print; otherwise null. */
export async function requestIfRequired(rt: Runtime, op: ApprovableOp, target: Target, args: Record<string, unknown>): Promise<CommandResult | null> {
  const gate = await rt.policyGate();
  if (!gate) return null;
  const need = gate.approvers(op);
  if (need.count === 0) return null;
  const { createRequest } = await import('../policy/approvals.js');
  const db = rt.ledger();
  let forced: string | undefined;
  const req = await rt.audited('approval-request', (scope) => {
    scope.details.op = op;
    let keyId: string | null = null;
    let alias: string | null = null;
    const stored = { ...args };
    if ('ref' in target) {
      const key = requireKey(db, target.ref, scope);
      gate.check(op, key.alias, scope);
      forced = precheck(rt, op, key.id, args, scope);
      keyId = key.id;
      alias = key.alias;
    } else {
      for (const it of target.items) gate.check(op, it.alias, scope);
      stored.items = target.items;
    }
    const r = createRequest(db, { op, keyId, alias, args: stored, required: need.count, requestedBy: rt.who.actor }, rt.now());
    Object.assign(scope.details, { request: r.id, required: need.count, role: need.role?.name, expiresAt: r.expires_at });
    return r;
  });
  const role = need.role!;
  return {
    data: { pending: true, request: requestView(req) },
    text:
      `${requestSubject(req)} needs ${need.count} approval${need.count === 1 ? '' : 's'} from other actors (role ${role.name}, ${role.source.file}:${role.source.line}): ` +
      `nothing was changed yet.${forced ? ` Note: ${forced}.` : ''}\nrequest ${req.id} is pending until ${req.expires_at}; another actor approves it with: kmsctl approve ${req.id}`,
  };
}

/** Carries out an approved request as the approver; each key operation gets its own audit record. */
export async function executeRequest(rt: Runtime, r: Request, approvedBy: string[]): Promise<{ data: Record<string, unknown>; text: string }> {
  const note = (scope: { details: Record<string, unknown> }) => Object.assign(scope.details, { request: r.id, requestedBy: r.requested_by, approvedBy });
  const version = typeof r.args.version === 'number' ? r.args.version : undefined;
  switch (r.op) {
    case 'delete': {
      const ctx = rt.ledgerCtx();
      const windowS = typeof r.args.windowS === 'number' ? r.args.windowS : undefined;
      const c = await rt.audited('delete', (scope) => {
        note(scope);
        return scheduleDeletion(ctx, scope, r.key_id!, { windowS, version, force: r.args.force === true });
      });
      const subject = c.version ? `${c.key.alias} v${c.version.version}` : c.key.alias;
      return { data: { keyId: c.key.id, alias: c.key.alias, version: c.version?.version, state: c.to, destroyAfter: c.destroyAfter }, text: `${subject} is ${c.to}: purge may destroy it after ${c.destroyAfter}` };
    }
    case 'restore': {
      const ctx = rt.ledgerCtx();
      const c = await rt.audited('restore', (scope) => {
        note(scope);
        return restore(ctx, scope, r.key_id!, { version, enable: r.args.enable === true });
      });
      return { data: { keyId: c.key.id, alias: c.key.alias, version: c.version?.version, state: c.to }, text: `restored ${c.key.alias}${c.version ? ` v${c.version.version}` : ''}: ${c.to}` };
    }
    case 'purge': {
      const wanted = (r.args.items as Array<{ keyId: string; version: number }>) ?? [];
      const ctx = await rt.keyCtx();
      const due = dueForPurge(ctx).filter((d) => wanted.some((w) => w.keyId === d.keyId && w.version === d.version));
      const destroyed: Array<{ alias: string; version: number }> = [];
      for (const d of due) {
        const ok = await rt.audited('purge', (scope) => {
          note(scope);
          Object.assign(scope, { keyId: d.keyId, alias: d.alias, version: d.version });
          scope.details.wholeKey = d.wholeKey;
          scope.authorize?.({ id: d.keyId, alias: d.alias });
          return purgeOne(ctx, d);
        });
        if (ok) destroyed.push({ alias: d.alias, version: d.version });
      }
      return { data: { destroyed }, text: `destroyed ${destroyed.length} version(s)${destroyed.length ? `: ${destroyed.map((d) => `${d.alias} v${d.version}`).join(', ')}` : ''}` };
    }
  }
}
