// The pure halves of policies: plan() against a ledger snapshot, and decide() over rules.

import { describe, expect, it } from 'vitest';
import { parsePolicies } from '../../src/policy/load.js';
import { changeCount, plan } from '../../src/policy/plan.js';
import { approversRequired, decide, globMatch } from '../../src/policy/decide.js';
import type { AppliedPolicy } from '../../src/policy/active.js';
import type { KeyRow } from '../../src/ledger/records.js';
import type { PolicySet } from '../../src/policy/model.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400;

function policy(yaml: string): PolicySet {
  const r = parsePolicies([{ file: 'p.yaml', text: yaml }]);
  if (!r.policy) throw new Error(r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('\n'));
  return r.policy;
}

function row(alias: string, o: Partial<KeyRow> = {}): KeyRow {
  return {
    id: `k_${alias}`,
    alias,
    spec: 'aes-256',
    purpose: 'wrap',
    state: 'enabled',
    primary_version: 1,
    created_at: '2026-05-01T00:00:00.000Z',
    updated_at: '2026-05-01T00:00:00.000Z',
    rotation_period_s: null,
    deletion_window_s: null,
    description: null,
    labels: '{}',
    exportable: 0,
    destroy_after: null,
    last_rotated_at: '2026-05-01T00:00:00.000Z',
    ...o,
  };
}

function applied(p: PolicySet): AppliedPolicy {
  return { id: 1, appliedAt: NOW.toISOString(), appliedBy: 'ops', hash: p.hash, sources: p.sources, ruleSet: { roles: p.roles, rules: p.rules } };
}

const KEYS = `version: 1
keys:
  - alias: payments
    spec: aes-256
    rotation-period: 90d
    labels: { team: payments }
`;

describe('plan', () => {
  it('creates what the ledger lacks, and nothing once it matches', () => {
    const p = policy(KEYS);
    const first = plan(p, [], null, NOW);
    expect(first.actions.map((a) => [a.kind, a.alias])).toEqual([['create', 'payments']]);
    const after = plan(p, [row('payments', { rotation_period_s: 90 * DAY, labels: '{"team":"payments"}' })], null, NOW);
    expect(changeCount(after)).toBe(0);
  });

  it('a changed rotation period is one update', () => {
    const p = policy(KEYS.replace('90d', '60d'));
    const r = plan(p, [row('payments', { rotation_period_s: 90 * DAY, labels: '{"team":"payments"}' })], null, NOW);
    expect(r.actions).toHaveLength(1);
    expect(r.actions[0]).toMatchObject({ kind: 'update', alias: 'payments', changes: [{ field: 'rotation-period', from: '90d', to: '60d' }] });
  });

  it('rotates a key whose declared period has elapsed', () => {
    const r = plan(policy(KEYS), [row('payments', { rotation_period_s: 90 * DAY, labels: '{"team":"payments"}', last_rotated_at: '2026-01-01T00:00:00.000Z' })], null, NOW);
    expect(r.actions.map((a) => a.kind)).toEqual(['rotate']);
  });

  it('shows keys no file declares as unmanaged, and never acts on them', () => {
    const r = plan(policy(KEYS), [row('payments', { rotation_period_s: 90 * DAY, labels: '{"team":"payments"}' }), row('scratch'), row('gone', { state: 'destroyed' })], null, NOW);
    expect(r.unmanaged.map((u) => u.alias)).toEqual(['scratch']);
    expect(changeCount(r)).toBe(0);
  });

  it('deletes only a key marked state: deleted', () => {
    const p = policy(`${KEYS}    state: deleted\n`);
    const r = plan(p, [row('payments', { rotation_period_s: 90 * DAY })], null, NOW);
    expect(r.actions.map((a) => a.kind)).toEqual(['delete']);
    expect(plan(p, [row('payments', { state: 'pending-deletion', destroy_after: '2026-07-01T00:00:00Z' })], null, NOW).actions).toEqual([]);
    expect(plan(p, [], null, NOW).actions).toEqual([]);
  });

  it('a spec that differs from the ledger is a conflict at its place', () => {
    const r = plan(policy(KEYS), [row('payments', { spec: 'ec-p256', purpose: 'sign' })], null, NOW);
    expect(r.conflicts).toEqual([expect.objectContaining({ file: 'p.yaml', line: 3, column: 12, alias: 'payments' })]);
  });

  it('rules: new, unchanged, changed; a comment is not a change', () => {
    const yaml = `version: 1
rules:
  - name: ci
    actors: [ci]
    allow: [wrap]
`;
    const p = policy(yaml);
    expect(plan(p, [], null, NOW).rules).toMatchObject({ added: ['ci'], ruleCount: 1 });
    expect(plan(policy(`# a comment\n${yaml}`), [], applied(p), NOW).rules).toBeNull();
    expect(plan(policy(yaml.replace('[wrap]', '[wrap, sign]')), [], applied(p), NOW).rules).toMatchObject({ changed: ['ci'] });
  });
});

describe('decide', () => {
  const p = policy(`version: 1
roles:
  admins:
    actors: [alice, bob]
    approvers: 1
  ci:
    actors: [ci-*]
rules:
  - name: admins-all
    roles: [admins]
    allow: ['*']
  - name: no-decrypt-payments
    roles: [admins]
    keys: [payments-*]
    deny: [unwrap]
  - name: ci-wrap-sign
    roles: [ci]
    keys: [payments-*, release-*]
    allow: [wrap, sign]
`);

  it('a deny overrides an allow, naming the rule', () => {
    const d = decide(p, 'alice', 'unwrap', 'payments-wrap');
    expect(d).toMatchObject({ allowed: false, rule: { name: 'no-decrypt-payments' } });
    expect(decide(p, 'alice', 'unwrap', 'other')).toMatchObject({ allowed: true, rule: { name: 'admins-all' } });
  });

  it('what no rule allows is denied', () => {
    expect(decide(p, 'ci-main', 'unwrap', 'payments-wrap')).toEqual({ allowed: false, rule: null });
    expect(decide(p, 'ci-main', 'wrap', 'payments-wrap').allowed).toBe(true);
    expect(decide(p, 'ci-main', 'wrap', 'scratch').allowed).toBe(false);
    expect(decide(p, 'mallory', 'verify', 'payments-wrap').allowed).toBe(false);
  });

  it('approvers come from the actor roles', () => {
    expect(approversRequired(p, 'alice', 'delete').count).toBe(1);
    expect(approversRequired(p, 'ci-main', 'delete').count).toBe(0);
  });

  it('glob patterns match whole names', () => {
    expect(globMatch('payments-*', 'payments-wrap')).toBe(true);
    expect(globMatch('payments-*', 'xpayments-wrap')).toBe(false);
    expect(globMatch('k?y', 'key')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });
});
