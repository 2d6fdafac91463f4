// The I/O half: carries out a plan, action by action, each in its own audit record. Every action
// re-checks what the plan saw under the ledger's write lock, so a plan that went stale while the
// operator read it fails instead of doing something else.

import { immediate } from '../ledger/db.js';
import { findKey } from '../ledger/records.js';
import { temporary } from '../errors.js';
import { createKey } from '../keys/create.js';
import { rotateKey } from '../keys/rotate.js';
import { scheduleDeletion, setEnabled } from '../keys/lifecycle.js';
import type { AuditScope, KeyCtx, LedgerCtx } from '../keys/context.js';
import { insertPolicySet } from './active.js';
import type { FieldChange, KeyAction, Plan } from './plan.js';
import type { PolicySet } from './model.js';

export interface ApplyDeps {
  ledger: LedgerCtx;
  /** Opened only when an action needs the token (create, rotate). */
  keyCtx: () => Promise<KeyCtx>;
  /** Runs one action inside its audit record. */
  audited: <T>(fn: (scope: AuditScope) => T | Promise<T>) => Promise<T>;
  actor: string;
}

export interface Done {
  kind: KeyAction['kind'] | 'rules';
  alias?: string;
  keyId?: string;
  detail?: string;
}

function stale(alias: string, what: string): Error {
  return temporary(`key ${alias} changed since the plan was made (${what}): nothing more was applied`, { reason: 'plan-stale', hint: 'run kmsctl policy plan again, then apply' });
}

function updateKey(ctx: LedgerCtx, scope: AuditScope, a: Extract<KeyAction, { kind: 'update' }>): void {
  scope.keyId = a.keyId;
  scope.alias = a.alias;
  scope.details.changes = a.changes.map((c: FieldChange) => c.field);
  immediate(ctx.db, `updating ${a.alias}`, () => {
    const k = findKey(ctx.db, a.keyId);
    if (!k || k.alias !== a.alias) throw stale(a.alias, 'it is gone');
    const d = a.decl;
    ctx.db
      .prepare('UPDATE keys SET rotation_period_s = ?, deletion_window_s = ?, description = ?, labels = ?, updated_at = ? WHERE id = ?')
      .run(d.rotationPeriodS, d.deletionWindowS, d.description, JSON.stringify(d.labels), ctx.now().toISOString(), a.keyId);
  });
}

async function applyAction(a: KeyAction, deps: ApplyDeps, hash: string): Promise<Done> {
  return deps.audited(async (scope) => {
    scope.details.action = a.kind;
    scope.details.policy = hash.slice(0, 16);
    switch (a.kind) {
      case 'create': {
        const d = a.decl;
        const ctx = await deps.keyCtx();
        const { key } = createKey(ctx, scope, { alias: d.alias, spec: d.spec, rotationPeriodS: d.rotationPeriodS ?? undefined, deletionWindowS: d.deletionWindowS ?? undefined, description: d.description ?? undefined, labels: d.labels, exportable: d.exportable });
        if (d.state === 'disabled') setEnabled(deps.ledger, scope, key.id, false);
        return { kind: a.kind, alias: key.alias, keyId: key.id, detail: d.state === 'disabled' ? 'created disabled' : undefined };
      }
      case 'update':
        updateKey(deps.ledger, scope, a);
        return { kind: a.kind, alias: a.alias, keyId: a.keyId };
      case 'enable':
      case 'disable': {
        const r = setEnabled(deps.ledger, scope, a.keyId, a.kind === 'enable');
        if (r.from === r.to) throw stale(a.alias, `it is already ${r.to}`);
        return { kind: a.kind, alias: a.alias, keyId: a.keyId };
      }
      case 'rotate': {
        const ctx = await deps.keyCtx();
        const k = findKey(ctx.db, a.keyId);
        if (!k || k.last_rotated_at !== a.lastRotatedAt) throw stale(a.alias, 'it was rotated');
        const r = rotateKey(ctx, scope, a.keyId);
        return { kind: a.kind, alias: a.alias, keyId: a.keyId, detail: `v${r.version}` };
      }
      case 'delete': {
        const r = scheduleDeletion(deps.ledger, scope, a.keyId, { windowS: a.windowS ?? undefined });
        return { kind: a.kind, alias: a.alias, keyId: a.keyId, detail: `destroyed after ${r.destroyAfter}` };
      }
    }
  });
}

/** Performs the plan's actions in order, then records the rules; stops at the first failure (a second apply goes on from there). */
export async function applyPlan(p: Plan, desired: PolicySet, deps: ApplyDeps): Promise<Done[]> {
  const done: Done[] = [];
  for (const a of p.actions) done.push(await applyAction(a, deps, p.hash));
  if (p.rules) {
    const rules = p.rules;
    await deps.audited((scope) => {
      scope.details = { action: 'rules', policy: p.hash.slice(0, 16), rules: rules.ruleCount, added: rules.added, removed: rules.removed, changed: rules.changed, sources: p.sources.map((s) => s.file) };
      immediate(deps.ledger.db, 'recording the policy', () => insertPolicySet(deps.ledger.db, { ruleSet: { roles: desired.roles, rules: desired.rules }, hash: desired.hash, sources: desired.sources }, deps.actor, deps.ledger.now().toISOString()));
    });
    done.push({ kind: 'rules', detail: `${rules.ruleCount} rule${rules.ruleCount === 1 ? '' : 's'}` });
  }
  return done;
}
