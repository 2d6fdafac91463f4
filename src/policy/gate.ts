// The active rules at run time: an authorizer for each command's audit scope, and the approval
// requirement of the two-person rule. Loaded only when a rule is active (see active.ts).

import type { Db } from '../ledger/db.js';
import { denied } from '../errors.js';
import type { AuditScope } from '../keys/context.js';
import { appliedPolicy, type AppliedPolicy } from './active.js';
import { approversRequired, decide } from './decide.js';
import { OPERATIONS, type ApprovableOp, type Operation, type RoleDecl, type RuleDecl } from './model.js';

function at(r: RuleDecl | RoleDecl): string {
  return `${r.source.file}:${r.source.line}:${r.source.column}`;
}

export function isOperation(command: string): command is Operation {
  return (OPERATIONS as readonly string[]).includes(command);
}

export class Gate {
  constructor(
    readonly policy: AppliedPolicy,
    readonly actor: string,
  ) {}

  /**
   * Makes the scope check `command` on every key it resolves. Commands that are not key operations
   * (policy apply, approve, doctor) get no authorizer: apply is the policy's own administration, and
   * approve checks the operation it carries out.
   */
  guard(command: string, scope: AuditScope): void {
    if (!isOperation(command)) return;
    scope.authorize = (key) => this.check(command, key.alias, scope);
  }

  /** Throws `denied` (exit 77) naming the rule and its file, and notes the decision in the audit details. */
  check(op: Operation, alias: string, scope?: AuditScope): void {
    const d = decide(this.policy.ruleSet, this.actor, op, alias);
    if (d.allowed) return;
    const files = [...new Set(this.policy.sources.map((s) => s.file))].join(', ');
    const by = d.rule ? { rule: d.rule.name, file: d.rule.source.file, line: d.rule.source.line, column: d.rule.source.column } : { rule: null, files };
    if (scope) scope.details.policy = { decision: 'deny', actor: this.actor, op, ...by, hash: this.policy.hash.slice(0, 16) };
    const message = d.rule
      ? `policy denies ${this.actor} ${op} on ${alias}: rule "${d.rule.name}" (${at(d.rule)}) denies ${op}`
      : `policy denies ${this.actor} ${op} on ${alias}: no rule allows it (active policy from ${files}); with a policy applied, what no rule allows is denied`;
    throw denied(message, {
      reason: 'policy-denied',
      hint: d.rule ? `a deny overrides every allow: change the rule in ${d.rule.source.file} and kmsctl policy apply` : `add a rule that allows ${op} on ${alias} to the policy files and kmsctl policy apply`,
    });
  }

  allows(op: Operation, alias: string): boolean {
    return decide(this.policy.ruleSet, this.actor, op, alias).allowed;
  }

  approvers(op: ApprovableOp): { count: number; role: RoleDecl | null } {
    return approversRequired(this.policy.ruleSet, this.actor, op);
  }

  /** The same rules seen by another actor (an approver). */
  as(actor: string): Gate {
    return new Gate(this.policy, actor);
  }
}

export function openGate(db: Db, actor: string): Gate | null {
  const p = appliedPolicy(db);
  if (!p || p.ruleSet.rules.length === 0) return null;
  return new Gate(p, actor);
}
