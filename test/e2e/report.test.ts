import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, type RunResult } from '../helpers/cli.js';
import { kj, ok } from '../helpers/e2e.js';
import { appendRaw, auditRows, sqlite, type NewRecord } from '../helpers/audit.js';

// `kmsctl report` checked against a scripted history whose counts, failures and latencies are known.
// The scripted records are written straight into ledger.db, chained by the documented rule and
// unsealed; the next command with a token session seals them, and `audit verify` passes.

const DAY = 86_400_000;
let home: string;
let T: number;
let who: { actor: string; os_user: string; host: string };
const ids: Record<string, string> = {};

function run(args: string[]): RunResult {
  const r = kms(args, { home });
  expect(r.code, `${args.join(' ')}: ${r.stderr}${r.stdout}`).toBe(0);
  return r;
}

/** 12:00 UTC plus `minute` minutes, `daysAgo` days before today (UTC). */
function at(daysAgo: number, minute = 0): string {
  const midnight = Math.floor(T / DAY) * DAY;
  return new Date(midnight - daysAgo * DAY + 12 * 3_600_000 + minute * 60_000).toISOString();
}

function rec(alias: string, command: string, ts: string, duration: number, o: Partial<NewRecord> = {}): NewRecord {
  return { ts, ...who, command, key_id: ids[alias], alias, version: 1, outcome: 'success', error_code: null, duration_ms: duration, details: '{}', ...o };
}

function script(): NewRecord[] {
  const out: NewRecord[] = [];
  // payments: 20 wraps of 1..20 ms (the ones of 7 and 14 ms failed) and 10 unwraps (3 failed), two a
  // day over days 15..1, so no day stands out. One wrap came from a new host, one unwrap from a new actor.
  const payments: NewRecord[] = [];
  for (let i = 1; i <= 20; i++) {
    payments.push(rec('payments', 'wrap', '', i, i === 7 || i === 14 ? { outcome: 'failure', error_code: 'key-disabled' } : i === 5 ? { host: 'laptop-9' } : {}));
  }
  const unwrapMs = [5, 5, 5, 5, 5, 5, 5, 5, 50, 100];
  unwrapMs.forEach((ms, j) => {
    const o: Partial<NewRecord> = j === 0 ? { outcome: 'failure', error_code: 'context-mismatch' } : j >= 8 ? { outcome: 'failure', error_code: 'auth-failed' } : j === 3 ? { actor: 'mallory', os_user: 'mallory' } : {};
    payments.push(rec('payments', 'unwrap', '', ms, o));
  });
  payments.forEach((r, k) => out.push({ ...r, ts: at(15 - Math.floor(k / 2), k % 2) }));
  // signer: 2 signatures a day for days 8..2, then 7 on day 1 (over 3x the median of 2: a spike).
  // hooks: 2 MACs a day for days 8..2, then 6 on day 1 (exactly 3x: not a spike).
  for (let d = 8; d >= 2; d--) {
    for (let k = 0; k < 2; k++) out.push(rec('signer', 'sign', at(d, k), 3), rec('hooks', 'mac', at(d, 10 + k), 4));
  }
  for (let k = 0; k < 7; k++) out.push(rec('signer', 'sign', at(1, 20 + k), 3));
  for (let k = 0; k < 6; k++) out.push(rec('hooks', 'mac', at(1, 30 + k), 4));
  // Outside a 30-day window: eve's first use of payments, 40 days ago.
  out.push(rec('payments', 'unwrap', at(40), 5, { actor: 'eve', os_user: 'eve' }));
  return out;
}

beforeAll(() => {
  home = initHome();
  T = Date.now();
  const init = auditRows(home)[0];
  who = { actor: init.actor, os_user: init.os_user, host: init.host };
  run(['create', 'payments', '--spec', 'aes-256', '--rotation-period', '90d']);
  run(['create', 'signer', '--spec', 'ec-p256', '--rotation-period', '30d']);
  run(['create', 'stale', '--spec', 'aes-256', '--rotation-period', '30d']);
  run(['create', 'hooks', '--spec', 'hmac-sha256']);
  run(['create', 'old', '--spec', 'aes-256']);
  run(['rotate', 'payments']);
  run(['delete', 'old', '--window', '10d', '--yes']);
  run(['delete', 'payments', '--version', '1', '--window', '7d', '--yes']);
  for (const a of ['payments', 'signer', 'stale', 'hooks', 'old']) ids[a] = sqlite(home, `SELECT id FROM keys WHERE alias = '${a}'`).trim();
  sqlite(home, `UPDATE keys SET last_rotated_at = '${new Date(T - 29 * DAY).toISOString()}' WHERE alias = 'signer';
    UPDATE keys SET last_rotated_at = '${new Date(T - 40 * DAY).toISOString()}' WHERE alias = 'stale';`);
  appendRaw(home, script());
  // A command with a token session seals what waited.
  expect(auditRows(home).some((r) => r.seal === null)).toBe(true);
  run(['rotate', 'hooks']);
});

afterAll(() => removeDir(home));

describe('the scripted history', () => {
  it('is sealed by the next token command and verifies', () => {
    expect(auditRows(home).every((r) => r.seal !== null)).toBe(true);
    expect(ok(kj(['audit', 'verify'], { home }))).toMatchObject({ intact: true, unsealed: { count: 0 } });
  });
});

describe('report --json over 30 days', () => {
  let r: any;
  beforeAll(() => {
    r = ok(kj(['report', '--since', '30d'], { home }));
  });

  it('counts, error rates and nearest-rank p50/p95 latency per operation', () => {
    const op = (name: string) => r.operations.find((o: { operation: string }) => o.operation === name);
    expect(op('wrap')).toEqual({ operation: 'wrap', count: 20, errors: 2, errorRate: 0.1, p50Ms: 10, p95Ms: 19, sumMs: 210 });
    expect(op('unwrap')).toEqual({ operation: 'unwrap', count: 10, errors: 3, errorRate: 0.3, p50Ms: 5, p95Ms: 100, sumMs: 190 });
    expect(op('sign')).toMatchObject({ count: 21, errors: 0, errorRate: 0, p50Ms: 3, p95Ms: 3 });
    expect(op('mac')).toMatchObject({ count: 20, errors: 0, p50Ms: 4, p95Ms: 4 });
    expect(op('create')).toMatchObject({ count: 5, errors: 0 });
    expect(op('rotate')).toMatchObject({ count: 2 });
    expect(op('delete')).toMatchObject({ count: 2 });
    expect(r.operations.map((o: { operation: string }) => o.operation)).toEqual([...r.operations.map((o: { operation: string }) => o.operation)].sort());
  });

  it('per key alias and operation, successes and failures', () => {
    const k = (alias: string, operation: string) => r.byKey.find((x: any) => x.alias === alias && x.operation === operation);
    expect(k('payments', 'wrap')).toMatchObject({ keyId: ids.payments, success: 18, failure: 2 });
    expect(k('payments', 'unwrap')).toMatchObject({ success: 7, failure: 3 });
    expect(k('signer', 'sign')).toMatchObject({ success: 21, failure: 0 });
    expect(k('', 'init')).toMatchObject({ keyId: null, success: 1 });
  });

  it('the unwrap error rate with its error codes', () => {
    expect(r.unwrap).toEqual({ count: 10, errors: 3, errorRate: 0.3, byErrorCode: { 'auth-failed': 2, 'context-mismatch': 1 } });
  });

  it('rotation compliance of the enabled keys with a rotation period', () => {
    expect(r.rotation).toMatchObject({ onTime: 1, due: 1, overdue: 1 });
    const status = Object.fromEntries(r.rotation.keys.map((k: { alias: string; status: string }) => [k.alias, k.status]));
    expect(status).toEqual({ payments: 'on-time', signer: 'due', stale: 'overdue' });
    const stale = r.rotation.keys.find((k: { alias: string }) => k.alias === 'stale');
    expect(stale.secondsUntilDue).toBeLessThan(-9 * 86_400);
    expect(stale.secondsUntilDue).toBeGreaterThan(-11 * 86_400);
  });

  it('keys and versions pending deletion, with days left', () => {
    expect(r.pendingDeletion.keys).toEqual([expect.objectContaining({ alias: 'old', keyId: ids.old, daysLeft: 10 })]);
    expect(r.pendingDeletion.versions).toEqual([expect.objectContaining({ alias: 'payments', version: 1, daysLeft: 7 })]);
  });

  it('anomalies: a new actor and a new host on payments, a usage spike on signer; hooks at exactly 3x is not one', () => {
    const seen = r.anomalies.map((a: any) => (a.kind === 'usage-spike' ? `${a.alias} spike ${a.day} ${a.count}/${a.median}` : `${a.alias} ${a.kind} ${a.actor ?? a.host}`));
    expect(seen.sort()).toEqual([
      'payments new-actor mallory',
      'payments new-host laptop-9',
      `signer spike ${at(1).slice(0, 10)} 7/2`,
    ]);
  });

  it('the audit state', () => {
    expect(r.audit).toEqual({ lastSeq: auditRows(home).length, unsealed: 0 });
    expect(r.windowSeconds).toBe(30 * 86_400);
  });
});

describe('the window', () => {
  it('--since 60d takes in the older records and eve\'s first use', () => {
    const r = ok(kj(['report', '--since', '60d'], { home }));
    expect(r.operations.find((o: { operation: string }) => o.operation === 'unwrap').count).toBe(11);
    expect(r.anomalies.filter((a: any) => a.kind === 'new-actor').map((a: any) => a.actor).sort()).toEqual(['eve', 'mallory']);
  });

  it('--since 3d leaves out what happened before', () => {
    const r = ok(kj(['report', '--since', at(3).slice(0, 10)], { home }));
    // From midnight three days ago: signatures of days 3, 2 and 1, and no wrap (the last was on day 6).
    expect(r.operations.find((o: { operation: string }) => o.operation === 'sign').count).toBe(2 + 2 + 7);
    expect(r.operations.find((o: { operation: string }) => o.operation === 'wrap')).toBeUndefined();
  });
});

describe('report as a table', () => {
  it('has each section', () => {
    const t = run(['report']).stdout;
    expect(t).toMatch(/^report over 30d since /);
    expect(t).toMatch(/\nunwrap\s+10\s+3\s+30\.0%\s+5\s+100\n/);
    expect(t).toContain('unwrap error rate: 30.0% (3 of 10): auth-failed 2, context-mismatch 1');
    expect(t).toContain('rotation: 1 on time, 1 due, 1 overdue');
    expect(t).toMatch(/\nold\s+all\s+\S+\s+10\n/);
    expect(t).toMatch(/\npayments\s+v1\s+\S+\s+7\n/);
    expect(t).toMatch(/\nsigner\s+usage-spike\s+\S+\s+7 records, 7-day median 2\n/);
  });
});

/** The Prometheus text format as node_exporter's textfile collector reads it, checked line by line. */
function checkExposition(text: string): Map<string, { type: string; samples: Array<{ name: string; labels: Record<string, string>; value: number }> }> {
  expect(text.endsWith('\n')).toBe(true);
  const fams = new Map<string, { type: string; help: boolean; samples: Array<{ name: string; labels: Record<string, string>; value: number }> }>();
  const seenSeries = new Set<string>();
  let current: string | null = null;
  const done = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP (kmsctl_[a-z0-9_]+) (.+)$/.exec(line);
    const type = /^# TYPE (kmsctl_[a-z0-9_]+) (gauge|counter|summary|histogram|untyped)$/.exec(line);
    if (help) {
      expect(fams.has(help[1]), `HELP ${help[1]} twice`).toBe(false);
      if (current) done.add(current);
      current = help[1];
      fams.set(help[1], { type: '', help: true, samples: [] });
      continue;
    }
    if (type) {
      expect(type[1]).toBe(current);
      expect(fams.get(type[1])!.type).toBe('');
      fams.get(type[1])!.type = type[2];
      continue;
    }
    const m = /^(kmsctl_[a-z0-9_]+)(?:\{((?:[a-z_][a-z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labelText, value] = m!;
    const fam = current!;
    const f = fams.get(fam)!;
    expect(f.type, `${name} before its TYPE`).not.toBe('');
    expect(done.has(fam)).toBe(false);
    if (f.type === 'summary') expect([fam, `${fam}_sum`, `${fam}_count`]).toContain(name);
    else expect(name).toBe(fam);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (labelText ?? '').matchAll(/([a-z_][a-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    if (f.type === 'summary' && name === fam) expect(labels.quantile).toMatch(/^0\.\d+$/);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    expect(seenSeries.has(series), `duplicate series ${series}`).toBe(false);
    seenSeries.add(series);
    expect(Number.isFinite(Number(value))).toBe(true);
    f.samples.push({ name, labels, value: Number(value) });
  }
  return fams;
}

describe('report --format prometheus', () => {
  let text: string;
  beforeAll(() => {
    text = run(['report', '--format', 'prometheus']).stdout;
  });

  it('follows the text exposition format: HELP and TYPE for every family, kmsctl_ prefix, no timestamps', () => {
    const fams = checkExposition(text);
    expect(fams.size).toBeGreaterThanOrEqual(10);
  });

  it('passes promtool check metrics when promtool is installed', () => {
    const which = spawnSync('sh', ['-c', 'command -v promtool']);
    if (which.status !== 0) return; // the format check above stands in for it
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  });

  it('carries the report\'s figures with key alias and operation labels', () => {
    const lines = text.split('\n');
    for (const want of [
      'kmsctl_report_window_seconds 2592000',
      'kmsctl_operations{key="payments",operation="wrap",outcome="success"} 18',
      'kmsctl_operations{key="payments",operation="wrap",outcome="failure"} 2',
      'kmsctl_operations{key="",operation="init",outcome="success"} 1',
      'kmsctl_operation_error_ratio{operation="unwrap"} 0.3',
      'kmsctl_operation_duration_seconds{operation="unwrap",quantile="0.5"} 0.005',
      'kmsctl_operation_duration_seconds{operation="unwrap",quantile="0.95"} 0.1',
      'kmsctl_operation_duration_seconds_sum{operation="unwrap"} 0.19',
      'kmsctl_operation_duration_seconds_count{operation="unwrap"} 10',
      'kmsctl_unwrap_error_ratio 0.3',
      'kmsctl_rotation_keys{status="overdue"} 1',
      'kmsctl_key_rotation_status{key="stale",status="overdue"} 1',
      'kmsctl_key_rotation_status{key="stale",status="on-time"} 0',
      'kmsctl_key_rotation_status{key="signer",status="due"} 1',
      'kmsctl_usage_anomalies{key="signer",kind="usage-spike"} 1',
      'kmsctl_usage_anomalies{key="payments",kind="new-actor"} 1',
      'kmsctl_audit_unsealed_records 0',
    ]) {
      expect(lines, want).toContain(want);
    }
    const left = lines.find((l) => l.startsWith('kmsctl_key_deletion_remaining_seconds{key="old"} '))!;
    expect(Number(left.split(' ')[1])).toBeGreaterThan(9.9 * 86_400);
    expect(Number(left.split(' ')[1])).toBeLessThanOrEqual(10 * 86_400);
    expect(lines.some((l) => l.startsWith('kmsctl_key_version_destruction_remaining_seconds{key="payments",version="1"} '))).toBe(true);
  });

  it('escapes label values', () => {
    // An alias cannot hold quotes or backslashes, but an actor-less record's key label is empty, and
    // a renamed key's old alias stays in old records: whatever it is, it must stay one label value.
    sqlite(home, `UPDATE audit SET alias = 'we"ird\\name' WHERE seq = (SELECT MIN(seq) FROM audit WHERE command = 'mac')`);
    try {
      const t = run(['report', '--format', 'prometheus']).stdout;
      checkExposition(t);
      expect(t).toContain('key="we\\"ird\\\\name"');
    } finally {
      sqlite(home, `UPDATE audit SET alias = 'hooks' WHERE alias = 'we"ird\\name'`);
    }
  });

  it('--out writes the file atomically for the textfile collector', () => {
    const out = join(home, 'kmsctl.prom');
    const d = ok(kj(['report', '--format', 'prometheus', '--out', out], { home }));
    expect(d).toMatchObject({ out, format: 'prometheus' });
    checkExposition(readFileSync(out, 'utf8'));
  });
});

describe('bad input', () => {
  it.each([
    [['report', '--since', 'tomorrow']],
    [['report', '--since', '2999-01-01']],
    [['report', '--format', 'xml']],
    [['report', '--format', 'prometheus', '--json']],
  ])('%j: exit 64, nothing written', (args) => {
    const before = auditRows(home);
    const r = kms([...args, ...(args.includes('--json') ? [] : ['--json'])], { home });
    expect(r.code).toBe(64);
    expect(r.json.error.code).toBe('usage');
    expect(auditRows(home)).toEqual(before);
  });

  it('a ledger from a newer kmsctl: exit 78', () => {
    const version = Number(sqlite(home, 'PRAGMA user_version').trim());
    sqlite(home, 'PRAGMA user_version = 99');
    try {
      const r = kj(['report'], { home });
      expect(r.code).toBe(78);
      expect(r.json.error.reason).toBe('ledger-too-new');
    } finally {
      sqlite(home, `PRAGMA user_version = ${version}`);
    }
  });
});
