// Policies through the built CLI on a real SoftHSM token: validate, the plan/apply round trip on the
// example policies, enforcement (deny overrides allow, a CI actor cannot unwrap), the two-person rule,
// and rotate --due with deadlines moved into the past in ledger.db.

import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, ROOT, tempDir, type RunResult } from '../helpers/cli.js';

const EXAMPLES = join(ROOT, 'policies');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'policies');
const homes: string[] = [];

afterAll(() => {
  for (const h of homes) removeDir(h);
});

function home(): string {
  const h = initHome();
  homes.push(h);
  return h;
}

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;

function run(h: string, args: string[], actor?: string, input?: Buffer | string): RunResult {
  return kms([...args, '--json', ...(actor ? ['--actor', actor] : [])], { home: h, input });
}

function ok(r: RunResult): any {
  expect(r.code, show(r)).toBe(0);
  expect(r.json?.ok, show(r)).toBe(true);
  return r.json;
}

function fails(r: RunResult, exitCode: number, reason?: string): any {
  expect(r.code, show(r)).toBe(exitCode);
  expect(r.json?.ok, show(r)).toBe(false);
  if (reason) expect(r.json.error.reason, show(r)).toBe(reason);
  return r.json;
}

function sql<T = any>(h: string, query: string, ...params: unknown[]): T[] {
  const db = new Database(join(h, 'ledger.db'));
  try {
    const stmt = db.prepare(query);
    return (stmt.reader ? stmt.all(...params) : (stmt.run(...params), [])) as T[];
  } finally {
    db.close();
  }
}

/** The example policies copied to a directory a test may edit. */
function examplesCopy(): string {
  const dir = tempDir('kmsctl-policies-');
  homes.push(dir);
  for (const f of ['keys.yaml', 'access.yaml', 'schema.json']) copyFileSync(join(EXAMPLES, f), join(dir, f));
  return dir;
}

function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString();
}

describe('policy validate', () => {
  let h: string;
  beforeAll(() => {
    h = tempDir();
    homes.push(h);
  });

  it('accepts the example policies without a ledger or token', () => {
    const j = ok(kms(['policy', 'validate', EXAMPLES, '--json'], { home: h }));
    expect(j.keys.sort()).toEqual(['payments-wrap', 'release-signing']);
    expect(j.approvalRoles).toEqual(['security-admin']);
  });

  it('exits 65 with every error at file:line:column', () => {
    const bad = join(FIXTURES, 'bad', 'bool-yes.yaml');
    const r = kms(['policy', 'validate', bad, join(FIXTURES, 'bad', 'unknown-field.yaml'), '--json'], { home: h });
    const j = fails(r, 65, 'policy-invalid');
    // Both files declare "payments": the duplicate is reported too, though both files have other errors.
    expect(j.errors).toEqual([
      expect.objectContaining({ file: bad, line: 5, column: 17 }),
      expect.objectContaining({ file: join(FIXTURES, 'bad', 'unknown-field.yaml'), line: 3, column: 12, message: `alias "payments" is declared twice: first at ${bad}:3:12` }),
      expect.objectContaining({ file: join(FIXTURES, 'bad', 'unknown-field.yaml'), line: 5, column: 5 }),
    ]);
    const text = kms(['policy', 'validate', bad], { home: h });
    expect(text.code).toBe(65);
    expect(text.stderr).toContain(`${bad}:5:17: unquoted yes`);
  });

  it('an alias declared in two files is an error in the second', () => {
    const r = kms(['policy', 'validate', join(FIXTURES, 'bad', 'alias-twice-a.yaml'), join(FIXTURES, 'bad', 'alias-twice-b.yaml')], { home: h });
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('alias-twice-b.yaml:5:12: alias "payments" is declared twice: first at');
  });

  it('a missing file is exit 66', () => {
    fails(kms(['policy', 'validate', join(h, 'nope.yaml'), '--json'], { home: h }), 66);
  });

  it('reports every error of every file in one run: schema, traps, ranges, cross-file duplicates', () => {
    const dir = join(FIXTURES, 'many');
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    const want = [
      [a, 4, 11], [a, 5, 17], [a, 6, 5], [a, 9, 22], [a, 11, 12], [a, 14, 22], [a, 15, 22], [a, 18, 13], [a, 21, 21], [a, 22, 19],
      [b, 3, 12], [b, 5, 22],
    ];
    const j = fails(kms(['policy', 'validate', dir, '--json'], { home: h }), 65, 'policy-invalid');
    expect(j.errors.map((e: any) => [e.file, e.line, e.column])).toEqual(want);
    expect(j.error.message.split('\n')[0]).toBe('12 errors in the policy files:');

    const r = kms(['policy', 'validate', a, b], { home: h });
    expect(r.code).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${a}:14:22: deletion-window "3d" is out of range: allowed 7d..30d\n`);
    expect(r.stderr).toContain(`${a}:15:22: rotation-period "0d" is out of range: allowed 1d..3650d\n`);
    expect(r.stderr).toContain(`${b}:3:12: alias "k1" is declared twice: first at ${a}:3:12\n`);
    // In the order of the list above, one line each.
    const places = r.stderr.split('\n').map((l) => /^(\/\S+?):(\d+):(\d+): /.exec(l)).filter(Boolean).map((m) => [m![1], Number(m![2]), Number(m![3])]);
    expect(places).toEqual(want);
  });

  it('a 20 MB single-line file gives a short error line', () => {
    const big = join(h, 'big.yaml');
    writeFileSync(big, `${'a'.repeat(20_000_000)}\n`);
    const r = kms(['policy', 'validate', big], { home: h });
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`${big}:1:1: the file: expected a mapping, got "${'a'.repeat(59)}…"`);
    expect(r.stderr.length).toBeLessThan(500);
    const j = fails(kms(['policy', 'validate', big, '--json'], { home: h }), 65, 'policy-invalid');
    expect(j.errors).toEqual([{ file: big, line: 1, column: 1, message: `the file: expected a mapping, got "${'a'.repeat(59)}…"` }]);
    expect(JSON.stringify(j).length).toBeLessThan(1000);
  });
});

describe('plan and apply the example policies', () => {
  let h: string;
  let dir: string;
  beforeAll(() => {
    h = home();
    dir = examplesCopy();
  });

  it('plans two creates and the rules, and changes nothing', () => {
    const r = run(h, ['policy', 'plan', dir, '--detailed-exitcode']);
    expect(r.code, show(r)).toBe(1);
    expect(r.json.ok).toBe(true);
    expect(r.json.actions.map((a: any) => [a.kind, a.alias])).toEqual([['create', 'payments-wrap'], ['create', 'release-signing']]);
    expect(r.json.rules.added).toContain('ci-wrap-and-sign');
    expect(ok(run(h, ['list'])).keys).toEqual([]);
    const text = kms(['policy', 'plan', dir], { home: h });
    expect(text.stdout).toMatch(/\+ create\s+payments-wrap\s+aes-256, rotation 90d, window 30d/);
    expect(text.stdout).toContain('Plan: 2 to create, rules changed.');
  });

  it('apply needs --yes outside a TTY', () => {
    fails(run(h, ['policy', 'apply', dir]), 64, 'confirmation-needed');
    expect(ok(run(h, ['list'])).keys).toEqual([]);
  });

  it('the first apply creates the keys and records the rules with the hash of the files', () => {
    const planned = run(h, ['policy', 'plan', dir]).json;
    const j = ok(run(h, ['policy', 'apply', dir, '--yes'], 'ops'));
    expect(j.applied.map((a: any) => a.kind)).toEqual(['create', 'create', 'rules']);
    const keys = ok(run(h, ['list'])).keys;
    expect(keys.map((k: any) => [k.alias, k.spec, k.rotationPeriodSeconds])).toEqual([
      ['payments-wrap', 'aes-256', 90 * 86400],
      ['release-signing', 'ec-p256', 365 * 86400],
    ]);
    const sets = sql(h, 'SELECT hash, applied_by, sources, rule_count FROM policy_sets');
    expect(sets).toHaveLength(1);
    expect(sets[0]).toMatchObject({ hash: planned.hash, applied_by: 'ops', rule_count: 6 });
    expect(JSON.parse(sets[0].sources).map((s: any) => s.file)).toEqual([join(dir, 'access.yaml'), join(dir, 'keys.yaml')]);
    const audit = sql(h, "SELECT actor, alias, outcome, details FROM audit WHERE command = 'policy-apply' ORDER BY seq");
    expect(audit.map((a) => [a.actor, a.alias, a.outcome, JSON.parse(a.details).action])).toEqual([
      ['ops', 'payments-wrap', 'success', 'create'],
      ['ops', 'release-signing', 'success', 'create'],
      ['ops', null, 'success', 'rules'],
    ]);
  });

  it('a second plan is empty, and a second apply does nothing', () => {
    const r = run(h, ['policy', 'plan', dir, '--detailed-exitcode']);
    expect(r.code, show(r)).toBe(0);
    expect(r.json).toMatchObject({ changes: 0, actions: [], rules: null });
    expect(ok(run(h, ['policy', 'apply', dir])).applied).toEqual([]);
  });

  it('a changed rotation period plans exactly one update', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('rotation-period: 90d', 'rotation-period: 60d'));
    const r = run(h, ['policy', 'plan', dir, '--detailed-exitcode']);
    expect(r.code, show(r)).toBe(1);
    expect(r.json.changes).toBe(1);
    expect(r.json.actions).toEqual([expect.objectContaining({ kind: 'update', alias: 'payments-wrap', changes: [{ field: 'rotation-period', from: '90d', to: '60d' }] })]);
    ok(run(h, ['policy', 'apply', dir, '--yes']));
    expect(ok(run(h, ['show', 'payments-wrap'])).key.rotationPeriodSeconds).toBe(60 * 86400);
    expect(run(h, ['policy', 'plan', dir, '--detailed-exitcode']).code).toBe(0);
  });

  it('a key made outside the policy shows as unmanaged and is left alone', () => {
    ok(run(h, ['create', 'scratch', '--spec', 'hmac-sha256'], 'alice'));
    const r = run(h, ['policy', 'plan', dir, '--detailed-exitcode']);
    expect(r.code, show(r)).toBe(0);
    expect(r.json.unmanaged).toEqual([expect.objectContaining({ alias: 'scratch', spec: 'hmac-sha256', state: 'enabled' })]);
    expect(kms(['policy', 'plan', dir], { home: h }).stdout).toMatch(/\? unmanaged\s+scratch/);
  });

  it('an overdue key is planned for rotation', () => {
    sql(h, 'UPDATE keys SET last_rotated_at = ? WHERE alias = ?', daysAgo(61), 'payments-wrap');
    const r = run(h, ['policy', 'plan', dir]);
    expect(r.json.actions).toEqual([expect.objectContaining({ kind: 'rotate', alias: 'payments-wrap' })]);
    const j = ok(run(h, ['policy', 'apply', dir, '--yes']));
    expect(j.applied).toEqual([expect.objectContaining({ kind: 'rotate', alias: 'payments-wrap', detail: 'v2' })]);
    expect(run(h, ['policy', 'plan', dir, '--detailed-exitcode']).code).toBe(0);
  });

  it('a key marked state: deleted is scheduled for deletion only with confirmation', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n  - alias: scratch\n    spec: hmac-sha256\n    state: deleted\n`);
    const planned = run(h, ['policy', 'plan', dir]).json;
    expect(planned.actions).toEqual([expect.objectContaining({ kind: 'delete', alias: 'scratch' })]);
    fails(run(h, ['policy', 'apply', dir]), 64, 'confirmation-needed');
    expect(ok(run(h, ['show', 'scratch'])).key.state).toBe('enabled');
    ok(run(h, ['policy', 'apply', dir, '--yes']));
    expect(ok(run(h, ['show', 'scratch'])).key.state).toBe('pending-deletion');
    expect(run(h, ['policy', 'plan', dir, '--detailed-exitcode']).code).toBe(0);
  });

  it('a declared spec that differs from the ledger is exit 65 with its place', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('spec: ec-p256', 'spec: ed25519'));
    const j = fails(run(h, ['policy', 'plan', dir]), 65, 'policy-conflict');
    expect(j.errors).toEqual([expect.objectContaining({ file, line: 14, column: 12, alias: 'release-signing' })]);
  });
});

describe('enforcement', () => {
  let h: string;
  let blob: string;
  const dek = Buffer.alloc(32, 7);
  beforeAll(() => {
    h = home();
    ok(run(h, ['policy', 'apply', EXAMPLES, '--yes'], 'ops'));
    blob = ok(run(h, ['wrap', 'payments-wrap'], 'payments-api', dek)).blob;
  });

  it('with no policy applied everything is allowed', () => {
    const fresh = home();
    ok(run(fresh, ['create', 'anything', '--spec', 'aes-256'], 'nobody-in-particular'));
    const b = ok(run(fresh, ['wrap', 'anything'], 'ci', dek)).blob;
    ok(run(fresh, ['unwrap'], 'ci', `${b}\n`));
  });

  it('a CI actor may wrap and sign, and cannot unwrap', () => {
    ok(run(h, ['wrap', 'payments-wrap'], 'ci', dek));
    ok(run(h, ['sign', 'release-signing'], 'ci-nightly', 'artifact'));
    const j = fails(run(h, ['unwrap'], 'ci', `${blob}\n`), 77, 'policy-denied');
    expect(j.error.message).toContain('policy denies ci unwrap on payments-wrap: no rule allows it');
    fails(run(h, ['datakey', 'payments-wrap'], 'ci'), 77, 'policy-denied');
    fails(run(h, ['rotate', 'payments-wrap'], 'ci'), 77, 'policy-denied');
  });

  it('the actor comes from KMSCTL_ACTOR when --actor is not given', () => {
    const r = kms(['unwrap', '--json'], { home: h, input: `${blob}\n`, env: { KMSCTL_ACTOR: 'ci' } });
    fails(r, 77, 'policy-denied');
    const allowed = kms(['unwrap', '--json'], { home: h, input: `${blob}\n`, env: { KMSCTL_ACTOR: 'payments-api' } });
    expect(Buffer.from(ok(allowed).plaintext, 'base64')).toEqual(dek);
  });

  it('a deny overrides an allow, naming the rule and its file', () => {
    // security-admin is allowed '*' on every key, and denied unwrap on payments-* by a later rule.
    const j = fails(run(h, ['unwrap'], 'alice', `${blob}\n`), 77, 'policy-denied');
    expect(j.error.message).toMatch(/rule "admins-never-decrypt-payments" \(.*access\.yaml:\d+:\d+\) denies unwrap/);
    ok(run(h, ['rotate', 'payments-wrap'], 'alice'));
  });

  it('denials are audited with the rule that denied', () => {
    const rows = sql(h, "SELECT actor, command, alias, outcome, error_code, details FROM audit WHERE error_code = 'policy-denied' ORDER BY seq");
    const alice = rows.find((r) => r.actor === 'alice')!;
    expect(alice).toMatchObject({ command: 'unwrap', alias: 'payments-wrap', outcome: 'failure' });
    expect(JSON.parse(alice.details).policy).toMatchObject({ decision: 'deny', rule: 'admins-never-decrypt-payments', op: 'unwrap', actor: 'alice' });
    expect(rows.filter((r) => r.actor === 'ci').map((r) => r.command)).toEqual(expect.arrayContaining(['unwrap', 'datakey', 'rotate']));
  });

  it('an actor no rule names is denied what no rule allows', () => {
    fails(run(h, ['create', 'mine', '--spec', 'aes-256'], 'mallory'), 77, 'policy-denied');
    expect(ok(run(h, ['list'])).keys.map((k: any) => k.alias)).not.toContain('mine');
  });
});

describe('two-person rule', () => {
  let h: string;
  beforeAll(() => {
    h = home();
    ok(run(h, ['policy', 'apply', EXAMPLES, '--yes'], 'ops'));
  });

  it('a delete by an admin becomes a pending request; the requester cannot approve it; another admin carries it out', () => {
    const req = ok(run(h, ['delete', 'release-signing', '--yes'], 'alice'));
    expect(req.pending).toBe(true);
    expect(req.request).toMatchObject({ op: 'delete', alias: 'release-signing', required: 1, requestedBy: 'alice', state: 'pending' });
    const id = req.request.id as string;
    expect(ok(run(h, ['show', 'release-signing'])).key.state).toBe('enabled');
    expect(ok(run(h, ['requests'])).requests.map((r: any) => r.id)).toEqual([id]);

    fails(run(h, ['approve', id, '--yes'], 'alice'), 77, 'own-request');
    fails(run(h, ['approve', id], 'bob'), 64, 'confirmation-needed');
    const done = ok(run(h, ['approve', id, '--yes'], 'bob'));
    expect(done.executed).toBe(true);
    expect(done.result.state).toBe('pending-deletion');
    expect(ok(run(h, ['show', 'release-signing'])).key.state).toBe('pending-deletion');
    fails(run(h, ['approve', id, '--yes'], 'bob'), 77, 'request-closed');
    fails(run(h, ['approve', id, '--yes'], 'carol'), 77, 'request-closed');

    const audit = sql(h, 'SELECT actor, command, outcome, error_code, details FROM audit WHERE command IN (?, ?, ?) ORDER BY seq', 'approval-request', 'approve', 'delete');
    expect(audit.map((a) => [a.actor, a.command, a.outcome, a.error_code])).toEqual([
      ['alice', 'approval-request', 'success', null],
      ['alice', 'approve', 'failure', 'own-request'],
      ['bob', 'approve', 'failure', 'confirmation-needed'],
      ['bob', 'approve', 'success', null],
      ['bob', 'delete', 'success', null],
      ['bob', 'approve', 'failure', 'request-closed'],
      ['carol', 'approve', 'failure', 'request-closed'],
    ]);
    expect(JSON.parse(audit[4].details)).toMatchObject({ request: id, requestedBy: 'alice', approvedBy: ['bob'] });
  });

  it('a restore by an admin needs approval too', () => {
    const id = ok(run(h, ['restore', 'release-signing'], 'carol')).request.id;
    const done = ok(run(h, ['approve', id, '--yes'], 'alice'));
    expect(done.result).toMatchObject({ alias: 'release-signing', state: 'disabled' });
  });

  it('an approver must be allowed the operation', () => {
    const id = ok(run(h, ['delete', 'payments-wrap', '--yes'], 'alice')).request.id;
    fails(run(h, ['approve', id, '--yes'], 'ci'), 77, 'policy-denied');
    expect(ok(run(h, ['show', 'payments-wrap'])).key.state).toBe('enabled');
  });

  it('an expired request is exit 66, and so is an unknown one', () => {
    const id = ok(run(h, ['delete', 'payments-wrap', '--yes'], 'alice')).request.id;
    sql(h, 'UPDATE approval_requests SET requested_at = ?, expires_at = ? WHERE id = ?', daysAgo(2), daysAgo(1), id);
    fails(run(h, ['approve', id, '--yes'], 'bob'), 66, 'request-expired');
    expect(ok(run(h, ['requests'])).requests.map((r: any) => r.id)).not.toContain(id);
    fails(run(h, ['approve', 'r_000000000000', '--yes'], 'bob'), 66, 'request-not-found');
    expect(ok(run(h, ['show', 'payments-wrap'])).key.state).toBe('enabled');
  });

  it('with two approvers required, one actor approving twice counts once', () => {
    const h3 = home();
    ok(run(h3, ['policy', 'apply', join(FIXTURES, 'good', 'three-person.yaml'), '--yes'], 'ops'));
    const id = ok(run(h3, ['delete', 'vault-wrap', '--yes'], 'alice')).request.id;
    const first = ok(run(h3, ['approve', id, '--yes'], 'bob'));
    expect(first.executed).toBe(false);
    expect(first.request.approvals.map((a: any) => a.actor)).toEqual(['bob']);
    fails(run(h3, ['approve', id, '--yes'], 'bob'), 77, 'already-approved');
    expect(ok(run(h3, ['show', 'vault-wrap'])).key.state).toBe('enabled');
    const second = ok(run(h3, ['approve', id, '--yes'], 'carol'));
    expect(second.executed).toBe(true);
    expect(ok(run(h3, ['show', 'vault-wrap'])).key.state).toBe('pending-deletion');
    // restore is not in approval-for here: it acts at once.
    expect(ok(run(h3, ['restore', 'vault-wrap'], 'dave')).state).toBe('disabled');
  });

  it('a delete request makes the delete\'s own checks when it is made: a key used in the last 7 days is refused (77) unless --force, which the request carries and the audit records', () => {
    const h4 = home();
    ok(run(h4, ['policy', 'apply', join(FIXTURES, 'good', 'three-person.yaml'), '--yes'], 'ops'));
    ok(run(h4, ['wrap', 'vault-wrap'], 'alice', 'a data key'));

    const refused = fails(run(h4, ['delete', 'vault-wrap', '--yes'], 'alice'), 77, 'recently-used');
    expect(refused.error.message).toMatch(/^key vault-wrap was used \S+ by wrap \(version 1\), within the last 7 days/);
    expect(refused.error.hint).toContain('--force');
    expect(ok(run(h4, ['requests'])).requests).toEqual([]);
    expect(sql(h4, 'SELECT COUNT(*) AS n FROM approval_requests')[0].n).toBe(0);

    const req = ok(run(h4, ['delete', 'vault-wrap', '--yes', '--force'], 'alice'));
    expect(req.request).toMatchObject({ op: 'delete', alias: 'vault-wrap', required: 2, state: 'pending', args: { force: true } });
    const id = req.request.id as string;
    expect(ok(run(h4, ['approve', id, '--yes'], 'bob')).executed).toBe(false);
    const done = ok(run(h4, ['approve', id, '--yes'], 'carol'));
    expect(done.executed).toBe(true);
    expect(done.result.state).toBe('pending-deletion');
    expect(ok(run(h4, ['requests'])).requests).toEqual([]);

    const audit = sql(h4, 'SELECT actor, command, outcome, error_code, details FROM audit WHERE command IN (?, ?) ORDER BY seq', 'approval-request', 'delete');
    expect(audit.map((a) => [a.actor, a.command, a.outcome, a.error_code])).toEqual([
      ['alice', 'approval-request', 'failure', 'recently-used'],
      ['alice', 'approval-request', 'success', null],
      ['carol', 'delete', 'success', null],
    ]);
    expect(JSON.parse(audit[0].details)).toMatchObject({ op: 'delete', lastUsedBy: 'wrap' });
    expect(JSON.parse(audit[1].details)).toMatchObject({ op: 'delete', request: id, force: true, lastUsedBy: 'wrap', lastUsedAt: expect.any(String) });
    expect(JSON.parse(audit[2].details)).toMatchObject({ request: id, requestedBy: 'alice', approvedBy: ['bob', 'carol'], force: true, lastUsedBy: 'wrap' });

    // A key already pending deletion cannot be asked for again: the same 77 the delete itself gives.
    fails(run(h4, ['delete', 'vault-wrap', '--yes', '--force'], 'dave'), 77, 'key-pending-deletion');
    expect(sql(h4, 'SELECT COUNT(*) AS n FROM approval_requests')[0].n).toBe(1);
  });

  it('a restore request of a key that is not pending deletion is refused when it is made, as the restore would be', () => {
    const before = sql(h, 'SELECT COUNT(*) AS n FROM approval_requests')[0].n;
    expect(ok(run(h, ['show', 'payments-wrap'])).key.state).toBe('enabled');
    const e = fails(run(h, ['restore', 'payments-wrap'], 'carol'), 77, 'key-enabled');
    expect(e.error.message).toBe('key payments-wrap is enabled, not pending deletion: there is nothing to restore');
    expect(sql(h, 'SELECT COUNT(*) AS n FROM approval_requests')[0].n).toBe(before);
  });
});

describe('rotate --due', () => {
  it('rotates exactly the keys whose period has elapsed, and exits 0 when none is', () => {
    const h = home();
    ok(run(h, ['create', 'a-90d', '--spec', 'aes-256', '--rotation-period', '90d']));
    ok(run(h, ['create', 'b-30d', '--spec', 'ec-p256', '--rotation-period', '30d']));
    ok(run(h, ['create', 'c-none', '--spec', 'aes-256']));
    ok(run(h, ['create', 'd-90d', '--spec', 'hmac-sha256', '--rotation-period', '90d']));
    ok(run(h, ['create', 'e-disabled', '--spec', 'aes-256', '--rotation-period', '30d']));
    ok(run(h, ['disable', 'e-disabled']));
    const none = run(h, ['rotate', '--due']);
    expect(ok(none).rotated).toEqual([]);
    expect(kms(['rotate', '--due'], { home: h }).stdout).toBe('no key was due for rotation\n');

    sql(h, 'UPDATE keys SET last_rotated_at = ?', daysAgo(40));
    sql(h, 'UPDATE keys SET last_rotated_at = ? WHERE alias = ?', daysAgo(100), 'a-90d');
    const r = ok(run(h, ['rotate', '--due']));
    expect(r.rotated.map((x: any) => [x.alias, x.version]).sort()).toEqual([['a-90d', 2], ['b-30d', 2]]);
    const versions = Object.fromEntries(ok(run(h, ['list'])).keys.map((k: any) => [k.alias, k.primaryVersion]));
    expect(versions).toEqual({ 'a-90d': 2, 'b-30d': 2, 'c-none': 1, 'd-90d': 1, 'e-disabled': 1 });
    const audit = sql(h, "SELECT alias, details FROM audit WHERE command = 'rotate' AND outcome = 'success' ORDER BY seq");
    expect(audit.map((a) => [a.alias, JSON.parse(a.details).due])).toEqual(expect.arrayContaining([['a-90d', true], ['b-30d', true]]));
    expect(ok(run(h, ['rotate', '--due'])).rotated).toEqual([]);
    fails(run(h, ['rotate', 'a-90d', '--due']), 64);
  });

  it('follows the policy: the rotation job may rotate, CI may not', () => {
    const h = home();
    ok(run(h, ['policy', 'apply', EXAMPLES, '--yes'], 'ops'));
    sql(h, 'UPDATE keys SET last_rotated_at = ? WHERE alias = ?', daysAgo(91), 'payments-wrap');
    const denied = fails(run(h, ['rotate', '--due'], 'ci'), 77, 'policy-denied');
    expect(denied.failed.map((f: any) => f.alias)).toEqual(['payments-wrap']);
    const r = ok(run(h, ['rotate', '--due'], 'rotation-job'));
    expect(r.rotated.map((x: any) => x.alias)).toEqual(['payments-wrap']);
  });
});
