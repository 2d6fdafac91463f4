// The pure half of `policy plan` / `policy apply`: the declared policy, the ledger's keys and the
// applied rules in; the list of changes out. Nothing here reads a file, the clock or the token.

import { formatDuration } from '../duration.js';
import { isRotationDue, rotationDueAt } from '../keys/due.js';
import { aSpec } from '../keys/specs.js';
import type { KeyRow } from '../ledger/records.js';
import type { AppliedPolicy } from './active.js';
import type { KeyDecl, PolicySet, RoleDecl, RuleDecl, SourceFile, SourcePos } from './model.js';

export type Field = 'rotation-period' | 'deletion-window' | 'description' | 'labels';

export interface FieldChange {
  field: Field;
  from: string | null;
  to: string | null;
}

export type KeyAction =
  | { kind: 'create'; alias: string; decl: KeyDecl }
  | { kind: 'update'; alias: string; keyId: string; changes: FieldChange[]; decl: KeyDecl }
  | { kind: 'enable' | 'disable'; alias: string; keyId: string; decl: KeyDecl }
  | { kind: 'rotate'; alias: string; keyId: string; lastRotatedAt: string; periodS: number; dueAt: string }
  | { kind: 'delete'; alias: string; keyId: string; windowS: number | null; decl: KeyDecl };

export interface RulesChange {
  kind: 'rules';
  added: string[];
  removed: string[];
  changed: string[];
  rolesAdded: string[];
  rolesRemoved: string[];
  rolesChanged: string[];
  ruleCount: number;
}

export interface Conflict extends SourcePos {
  alias: string;
  message: string;
}

export interface Plan {
  hash: string;
  sources: SourceFile[];
  actions: KeyAction[];
  rules: RulesChange | null;
  /** Keys in the ledger that no file declares: shown, never touched. */
  unmanaged: Array<{ alias: string; keyId: string; spec: string; state: string }>;
  /** Drift that apply leaves alone, with the command that resolves it. */
  notes: Array<{ alias: string; message: string }>;
  /** Declarations that cannot be reached from the ledger's state; apply refuses while any remains. */
  conflicts: Conflict[];
}

export function changeCount(p: Plan): number {
  return p.actions.length + (p.rules ? 1 : 0);
}

function dur(s: number | null): string | null {
  return s === null ? null : formatDuration(s);
}

function canonicalLabels(l: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(l).sort(([a], [b]) => a.localeCompare(b))));
}

function fieldChanges(d: KeyDecl, k: KeyRow): FieldChange[] {
  const out: FieldChange[] = [];
  if (d.rotationPeriodS !== k.rotation_period_s) out.push({ field: 'rotation-period', from: dur(k.rotation_period_s), to: dur(d.rotationPeriodS) });
  if (d.deletionWindowS !== k.deletion_window_s) out.push({ field: 'deletion-window', from: dur(k.deletion_window_s), to: dur(d.deletionWindowS) });
  if ((d.description ?? null) !== (k.description ?? null)) out.push({ field: 'description', from: k.description, to: d.description });
  const have = canonicalLabels(JSON.parse(k.labels || '{}') as Record<string, string>);
  const want = canonicalLabels(d.labels);
  if (have !== want) out.push({ field: 'labels', from: have, to: want });
  return out;
}

function keyPlan(d: KeyDecl, k: KeyRow | undefined, now: Date, plan: Plan): void {
  const conflict = (message: string) => plan.conflicts.push({ ...d.source, alias: d.alias, message });
  if (!k) {
    if (d.state !== 'deleted') plan.actions.push({ kind: 'create', alias: d.alias, decl: d });
    return;
  }
  if (k.state === 'destroyed') {
    if (d.state !== 'deleted') conflict(`key ${d.alias} was destroyed; its alias cannot come back: declare another alias, or mark it state: deleted`);
    return;
  }
  if (k.spec !== d.spec) {
    conflict(`key ${d.alias} is ${k.spec} in the ledger but declared ${d.spec}: a key's spec never changes; declare a new alias for ${aSpec(d.spec)} key`);
    return;
  }
  if ((k.exportable === 1) !== d.exportable) {
    conflict(`key ${d.alias} is ${k.exportable === 1 ? '' : 'not '}exportable in the ledger but declared exportable: ${d.exportable}: this is fixed when a key is created; declare a new alias`);
    return;
  }
  if (k.state === 'pending-deletion') {
    if (d.state !== 'deleted') plan.notes.push({ alias: d.alias, message: `is pending deletion (destroyed after ${k.destroy_after}) but declared ${d.state}: apply does not undo a deletion; run kmsctl restore ${d.alias}, or mark it state: deleted` });
    return;
  }
  if (d.state === 'deleted') {
    plan.actions.push({ kind: 'delete', alias: d.alias, keyId: k.id, windowS: d.deletionWindowS ?? k.deletion_window_s, decl: d });
    return;
  }
  const changes = fieldChanges(d, k);
  if (changes.length > 0) plan.actions.push({ kind: 'update', alias: d.alias, keyId: k.id, changes, decl: d });
  if (d.state !== k.state) plan.actions.push({ kind: d.state === 'enabled' ? 'enable' : 'disable', alias: d.alias, keyId: k.id, decl: d });
  if (d.state === 'enabled' && isRotationDue({ state: 'enabled', last_rotated_at: k.last_rotated_at }, d.rotationPeriodS, now)) {
    plan.actions.push({ kind: 'rotate', alias: d.alias, keyId: k.id, lastRotatedAt: k.last_rotated_at, periodS: d.rotationPeriodS!, dueAt: rotationDueAt(k.last_rotated_at, d.rotationPeriodS)!.toISOString() });
  }
}

// Rules compare by meaning: a comment or a moved line changes the file hash but is not a change.
function ruleMeaning(r: RuleDecl): string {
  return JSON.stringify([r.actors, r.roles, r.keys, r.allow, r.deny]);
}
function roleMeaning(r: RoleDecl): string {
  return JSON.stringify([r.actors, r.approvers, r.approvers > 0 ? [...r.approvalFor].sort() : []]);
}

function diffByName<T extends { name: string }>(before: T[], after: T[], meaning: (t: T) => string): { added: string[]; removed: string[]; changed: string[] } {
  const b = new Map(before.map((x) => [x.name, meaning(x)]));
  const a = new Map(after.map((x) => [x.name, meaning(x)]));
  return {
    added: [...a.keys()].filter((n) => !b.has(n)),
    removed: [...b.keys()].filter((n) => !a.has(n)),
    changed: [...a.keys()].filter((n) => b.has(n) && b.get(n) !== a.get(n)),
  };
}

function rulesPlan(desired: PolicySet, applied: AppliedPolicy | null): RulesChange | null {
  const before = applied?.ruleSet ?? { roles: [], rules: [] };
  const rules = diffByName(before.rules, desired.rules, ruleMeaning);
  const roles = diffByName(before.roles, desired.roles, roleMeaning);
  // Order matters too: the first matching rule is the one a decision names.
  const reordered = rules.added.length === 0 && rules.removed.length === 0 && before.rules.map((r) => r.name).join('\0') !== desired.rules.map((r) => r.name).join('\0');
  const none = [rules, roles].every((d) => d.added.length + d.removed.length + d.changed.length === 0);
  if (none && !reordered) return null;
  return {
    kind: 'rules',
    added: rules.added,
    removed: rules.removed,
    changed: reordered && rules.changed.length === 0 ? desired.rules.map((r) => r.name) : rules.changed,
    rolesAdded: roles.added,
    rolesRemoved: roles.removed,
    rolesChanged: roles.changed,
    ruleCount: desired.rules.length,
  };
}

const ORDER: Record<KeyAction['kind'], number> = { create: 0, update: 1, enable: 2, disable: 3, rotate: 4, delete: 5 };

/** What apply would do to make the ledger and the token match the files. */
export function plan(desired: PolicySet, ledgerKeys: KeyRow[], applied: AppliedPolicy | null, now: Date): Plan {
  const p: Plan = { hash: desired.hash, sources: desired.sources, actions: [], rules: null, unmanaged: [], notes: [], conflicts: [] };
  const byAlias = new Map(ledgerKeys.map((k) => [k.alias, k]));
  for (const d of desired.keys) keyPlan(d, byAlias.get(d.alias), now, p);
  const declared = new Set(desired.keys.map((d) => d.alias));
  for (const k of ledgerKeys) {
    if (!declared.has(k.alias) && k.state !== 'destroyed') p.unmanaged.push({ alias: k.alias, keyId: k.id, spec: k.spec, state: k.state });
  }
  p.actions.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.alias.localeCompare(b.alias));
  p.rules = rulesPlan(desired, applied);
  return p;
}
