// Pure decisions over a rule set: which rule decides an operation, and how many approvers it needs.
// A matching deny overrides any allow; with rules active, what no rule allows is denied.

import type { ApprovableOp, Operation, RoleDecl, RuleDecl, RuleSet } from './model.js';

const cache = new Map<string, RegExp>();

/** `*` matches any run of characters, `?` one; everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    cache.set(pattern, re);
  }
  return re.test(value);
}

export function rolesOf(set: RuleSet, actor: string): RoleDecl[] {
  return set.roles.filter((r) => r.actors.some((p) => globMatch(p, actor)));
}

function applies(rule: RuleDecl, actor: string, roles: string[], alias: string): boolean {
  const who = rule.actors.some((p) => globMatch(p, actor)) || rule.roles.some((r) => roles.includes(r));
  return who && rule.keys.some((p) => globMatch(p, alias));
}

function names(ops: RuleDecl['allow'], op: Operation): boolean {
  return ops.includes('*') || ops.includes(op);
}

export type Decision = { allowed: true; rule: RuleDecl } | { allowed: false; rule: RuleDecl | null };

export function decide(set: RuleSet, actor: string, op: Operation, alias: string): Decision {
  const roles = rolesOf(set, actor).map((r) => r.name);
  const matching = set.rules.filter((r) => applies(r, actor, roles, alias));
  const deny = matching.find((r) => names(r.deny, op));
  if (deny) return { allowed: false, rule: deny };
  const allow = matching.find((r) => names(r.allow, op));
  return allow ? { allowed: true, rule: allow } : { allowed: false, rule: null };
}

/** The strictest approval requirement among the actor's roles for this operation (0: none). */
export function approversRequired(set: RuleSet, actor: string, op: ApprovableOp): { count: number; role: RoleDecl | null } {
  let best: { count: number; role: RoleDecl | null } = { count: 0, role: null };
  for (const r of rolesOf(set, actor)) {
    if (r.approvers > best.count && r.approvalFor.includes(op)) best = { count: r.approvers, role: r };
  }
  return best;
}
