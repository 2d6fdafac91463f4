// The applied policy in the ledger. Every command asks hasActiveRules() first: one indexed read, and
// only when a rule is active does the runtime load the gate (and nothing here imports YAML or ajv).

import type { Db } from '../ledger/db.js';
import type { RuleSet, SourceFile } from './model.js';

export interface AppliedPolicy {
  id: number;
  appliedAt: string;
  appliedBy: string;
  hash: string;
  sources: SourceFile[];
  ruleSet: RuleSet;
}

interface Row {
  id: number;
  applied_at: string;
  applied_by: string;
  hash: string;
  sources: string;
  rules: string;
  rule_count: number;
}

export function hasActiveRules(db: Db): boolean {
  const r = db.prepare('SELECT rule_count FROM policy_sets ORDER BY id DESC LIMIT 1').get() as { rule_count: number } | undefined;
  return (r?.rule_count ?? 0) > 0;
}

export function appliedPolicy(db: Db): AppliedPolicy | null {
  const r = db.prepare('SELECT * FROM policy_sets ORDER BY id DESC LIMIT 1').get() as Row | undefined;
  if (!r) return null;
  return { id: r.id, appliedAt: r.applied_at, appliedBy: r.applied_by, hash: r.hash, sources: JSON.parse(r.sources) as SourceFile[], ruleSet: JSON.parse(r.rules) as RuleSet };
}

/** Call inside the caller's transaction. */
export function insertPolicySet(db: Db, p: { ruleSet: RuleSet; hash: string; sources: SourceFile[] }, actor: string, at: string): number {
  return Number(
    db
      .prepare('INSERT INTO policy_sets (applied_at, applied_by, hash, sources, rules, rule_count) VALUES (?, ?, ?, ?, ?, ?)')
      .run(at, actor, p.hash, JSON.stringify(p.sources), JSON.stringify({ roles: p.ruleSet.roles, rules: p.ruleSet.rules }), p.ruleSet.rules.length).lastInsertRowid,
  );
}
