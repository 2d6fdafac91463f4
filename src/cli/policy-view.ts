import type { Paint } from './render.js';
import { formatDuration } from '../duration.js';
import { changeCount, type KeyAction, type Plan, type RulesChange } from '../policy/plan.js';

// How a plan reads: one line per change, marked like a diff (+ create, ~ update, - delete), then
// what apply leaves alone, then one summary line. The JSON form carries the same items.

function keySummary(a: Extract<KeyAction, { kind: 'create' }>): string {
  const d = a.decl;
  const parts: string[] = [d.spec];
  if (d.rotationPeriodS) parts.push(`rotation ${formatDuration(d.rotationPeriodS)}`);
  if (d.deletionWindowS) parts.push(`window ${formatDuration(d.deletionWindowS)}`);
  if (d.exportable) parts.push('exportable');
  if (d.state === 'disabled') parts.push('disabled');
  return parts.join(', ');
}

function daysAgo(iso: string, now: Date): number {
  return Math.floor((now.getTime() - Date.parse(iso)) / 86_400_000);
}

function names(label: string, list: string[]): string[] {
  return list.length ? [`${label} ${list.join(', ')}`] : [];
}

function rulesLines(r: RulesChange): string[] {
  const after = r.ruleCount === 0 ? 'no rules: every operation allowed' : `${r.ruleCount} rule${r.ruleCount === 1 ? '' : 's'} active`;
  return [
    after,
    ...names('+ rule', r.added),
    ...names('- rule', r.removed),
    ...names('~ rule', r.changed),
    ...names('+ role', r.rolesAdded),
    ...names('- role', r.rolesRemoved),
    ...names('~ role', r.rolesChanged),
  ];
}

export function actionLine(a: KeyAction, now: Date, c: Paint, width = 0): string {
  const pad = (s: string) => s.padEnd(9);
  const alias = a.alias.padEnd(width);
  switch (a.kind) {
    case 'create':
      return `${c.green(`+ ${pad('create')}`)} ${alias}  ${keySummary(a)}`;
    case 'update':
      return `${c.yellow(`~ ${pad('update')}`)} ${alias}  ${a.changes.map((ch) => `${ch.field} ${ch.from ?? 'none'} -> ${ch.to ?? 'none'}`).join('; ')}`;
    case 'enable':
    case 'disable':
      return `${c.yellow(`~ ${pad(a.kind)}`)} ${alias}  declared ${a.decl.state}`;
    case 'rotate':
      return `${c.cyan(`> ${pad('rotate')}`)} ${alias}  last rotated ${a.lastRotatedAt.slice(0, 10)} (${daysAgo(a.lastRotatedAt, now)} days ago), period ${formatDuration(a.periodS)}`;
    case 'delete':
      return `${c.red(`- ${pad('delete')}`)} ${alias}  schedule deletion (window ${a.windowS ? formatDuration(a.windowS) : '30d'}; restore undoes it), state: deleted at ${a.decl.source.file}:${a.decl.source.line}`;
  }
}

export function planText(p: Plan, now: Date, c: Paint): string {
  const lines: string[] = [`policy ${p.hash.slice(0, 16)} from ${p.sources.map((s) => s.file).join(', ')}`, ''];
  const width = Math.max(0, ...[...p.actions, ...p.unmanaged, ...p.notes].map((x) => x.alias.length));
  for (const a of p.actions) lines.push(`  ${actionLine(a, now, c, width)}`);
  if (p.rules) {
    const [head, ...rest] = rulesLines(p.rules);
    lines.push(`  ${c.yellow(`~ ${'rules'.padEnd(9)}`)} ${head}`);
    for (const r of rest) lines.push(`${' '.repeat(14)}${r}`);
  }
  for (const u of p.unmanaged) lines.push(`  ${c.dim(`? ${'unmanaged'.padEnd(9)}`)} ${u.alias.padEnd(width)}  ${u.spec}, ${u.state}: in the ledger, declared by no policy file (left alone)`);
  for (const n of p.notes) lines.push(`  ${c.dim(`! ${'note'.padEnd(9)}`)} ${n.alias.padEnd(width)}  ${n.message}`);
  if (lines.length === 2) lines.push('  (no changes)');
  const counts = (['create', 'update', 'enable', 'disable', 'rotate', 'delete'] as const)
    .map((k) => [k, p.actions.filter((a) => a.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} to ${k}`);
  if (p.rules) counts.push('rules changed');
  lines.push('', changeCount(p) === 0 ? 'No changes: the ledger matches the policy files.' : `Plan: ${counts.join(', ')}.`);
  return lines.join('\n');
}

/** The plan as JSON: actions without the declarations' internals, but with where each came from. */
export function planData(p: Plan): Record<string, unknown> {
  const actions = p.actions.map((a) => {
    const { decl, ...rest } = a as KeyAction & { decl?: { source: unknown; spec: string; state: string } };
    return decl ? { ...rest, ...(a.kind === 'create' ? { spec: decl.spec, state: decl.state } : {}), source: decl.source } : rest;
  });
  return { hash: p.hash, sources: p.sources, changes: changeCount(p), actions, rules: p.rules, unmanaged: p.unmanaged, notes: p.notes };
}
