import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, type RunResult } from '../helpers/cli.js';
import { kj, ok } from '../helpers/e2e.js';
import { auditRows, sqlite } from '../helpers/audit.js';

// `audit` filters and output forms, and `audit export` for a SIEM, through the built CLI.

const EXPORT_FIELDS = ['schema', 'seq', 'time', 'actor', 'os_user', 'host', 'action', 'key_id', 'key_alias', 'key_version', 'outcome', 'error_code', 'duration_ms', 'details', 'prev_hash', 'hash', 'seal'];

let home: string;
const seqs = (r: RunResult) => ok(r).records.map((x: { seq: number }) => x.seq);
const q = (args: string[]) => seqs(kj(['audit', ...args], { home }));

function run(args: string[], env: Record<string, string> = {}): RunResult {
  const r = kms(args, { home, env });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

beforeAll(() => {
  home = initHome();
  writeFileSync(join(home, 'dek'), 'sixteen byte key');
  run(['create', 'payments', '--spec', 'aes-256']);
  run(['create', 'hooks', '--spec', 'hmac-sha256']);
  const blob = run(['wrap', 'payments', '--in', join(home, 'dek'), '--context', 'tenant=acme'], { KMSCTL_ACTOR: 'bob' }).stdout;
  writeFileSync(join(home, 'blob'), blob);
  expect(kms(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=evil', '--actor', 'mallory'], { home }).code).toBe(65);
  run(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=acme', '--out', join(home, 'dek.out')], { KMSCTL_ACTOR: 'bob' });
  run(['rotate', 'payments']);
  run(['wrap', 'payments', '--in', join(home, 'dek'), '--actor', 'carol']);
  run(['mac', 'hooks', '--in', join(home, 'dek'), '--actor', 'carol']);
});

afterAll(() => removeDir(home));

describe('audit filters', () => {
  it('without filters: every record, oldest first', () => {
    expect(q([])).toEqual(auditRows(home).map((r) => r.seq));
  });

  it('--key (alias or id) and --version', () => {
    const rows = auditRows(home);
    const payments = rows.filter((r) => r.alias === 'payments').map((r) => r.seq);
    expect(q(['--key', 'payments'])).toEqual(payments);
    const id = rows.find((r) => r.alias === 'payments')!.key_id!;
    expect(q(['--key', id])).toEqual(payments);
    expect(q(['--key', 'payments', '--version', '2'])).toEqual(rows.filter((r) => r.alias === 'payments' && r.version === 2).map((r) => r.seq));
    expect(q(['--key', 'payments', '--version', '2'])).toHaveLength(2);
  });

  it('--actor, --action and --outcome', () => {
    const rows = auditRows(home);
    expect(q(['--actor', 'bob'])).toEqual(rows.filter((r) => r.actor === 'bob').map((r) => r.seq));
    expect(q(['--actor', 'bob'])).toHaveLength(2);
    const failed = ok(kj(['audit', '--action', 'unwrap', '--outcome', 'failure'], { home })).records;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actor: 'mallory', command: 'unwrap', outcome: 'failure', errorCode: 'context-mismatch' });
    expect(q(['--action', 'wrap', '--actor', 'carol'])).toHaveLength(1);
    expect(q(['--actor', 'nobody'])).toEqual([]);
  });

  it('--since and --until: a duration ago or a timestamp; --until is exclusive', () => {
    const rows = auditRows(home);
    expect(q(['--since', '1h'])).toEqual(rows.map((r) => r.seq));
    expect(q(['--since', '2020-01-01'])).toHaveLength(rows.length);
    expect(q(['--until', '2020-01-01T00:00:00Z'])).toEqual([]);
    // Spread the records over time so that a timestamp splits them.
    sqlite(home, "UPDATE audit SET ts = strftime('%Y-%m-%dT%H:%M:%fZ', '2026-03-01T10:00:00Z', '+' || seq || ' minutes')");
    expect(q(['--since', '2026-03-01T10:03:00Z'])).toEqual(rows.filter((r) => r.seq >= 3).map((r) => r.seq));
    expect(q(['--until', '2026-03-01T10:03:00Z'])).toEqual([1, 2]);
    expect(q(['--since', '2026-03-01 10:02', '--until', '2026-03-01T10:05:00.000Z'])).toEqual([2, 3, 4]);
    expect(q(['--since', '2026-03-01T11:03:00+01:00', '--until', '2026-03-01T10:04:00Z'])).toEqual([3]);
    expect(q(['--until', '2026-03-02'])).toHaveLength(rows.length);
  });

  it('--limit keeps the newest, still oldest first', () => {
    const all = auditRows(home).map((r) => r.seq);
    expect(q(['--limit', '3'])).toEqual(all.slice(-3));
    expect(q(['--key', 'payments', '--limit', '1'])).toEqual([auditRows(home).filter((r) => r.alias === 'payments').at(-1)!.seq]);
    expect(q(['--since-seq', String(all.length - 2)])).toEqual(all.slice(-2));
  });
});

describe('audit output forms', () => {
  it('a table for people, with the columns an incident needs', () => {
    const r = run(['audit', '--key', 'payments']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+ACTOR\s+HOST\s+COMMAND\s+KEY\s+V\s+OUTCOME\s+MS$/);
    expect(r.stdout).toContain('failure: context-mismatch');
    expect(run(['audit', '--actor', 'nobody']).stdout).toBe('no audit records match\n');
  });

  it('--jsonl: one record per line in the export format, the same records as --json', () => {
    const r = run(['audit', '--jsonl', '--key', 'payments']);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual(q(['--key', 'payments']));
    for (const l of lines) expect(Object.keys(l)).toEqual(EXPORT_FIELDS);
    expect(run(['audit', '--jsonl', '--actor', 'nobody']).stdout).toBe('');
  });
});

describe('audit export', () => {
  it('writes JSON Lines with stable field names and types, and a checkpoint of the newest record', () => {
    const out = join(home, 'export.jsonl');
    const cp = join(home, 'checkpoint.json');
    const d = ok(kj(['audit', 'export', '--out', out, '--checkpoint', cp], { home }));
    const rows = auditRows(home);
    expect(d).toMatchObject({ out, records: rows.length, firstSeq: 1, lastSeq: rows.length, checkpointFile: cp });
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(rows.length);
    lines.forEach((l, i) => {
      const r = rows[i];
      expect(Object.keys(l)).toEqual(EXPORT_FIELDS);
      expect(l).toEqual({
        schema: 'kmsctl.audit.v1', seq: r.seq, time: r.ts, actor: r.actor, os_user: r.os_user, host: r.host, action: r.command, key_id: r.key_id, key_alias: r.alias,
        key_version: r.version, outcome: r.outcome, error_code: r.error_code, duration_ms: r.duration_ms, details: JSON.parse(r.details), prev_hash: r.prev_hash, hash: r.hash, seal: r.seal,
      });
    });
    const c = JSON.parse(readFileSync(cp, 'utf8'));
    expect(c).toMatchObject({ format: 'kmsctl-audit-checkpoint', version: 1, seq: rows.length, hash: rows.at(-1)!.hash, seal: rows.at(-1)!.seal, ts: rows.at(-1)!.ts });
    expect(c.token.serial).toBe(sqlite(home, "SELECT value FROM meta WHERE name = 'token_serial'").trim());
    // Written by rename: no temp files left beside them.
    expect(readdirSync(home).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(statSync(out).size).toBeGreaterThan(0);
  });

  it('--since-seq and --since give incremental exports; the checkpoint always names the newest record', () => {
    const rows = auditRows(home);
    const out = join(home, 'incr.jsonl');
    const d = ok(kj(['audit', 'export', '--since-seq', String(rows.length - 2), '--out', out], { home }));
    expect(d).toMatchObject({ records: 2, firstSeq: rows.length - 1, lastSeq: rows.length, checkpoint: { seq: rows.length } });
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(2);
    const window = ok(kj(['audit', 'export', '--since', '2026-03-01T10:02:00Z', '--until', '2026-03-01T10:04:00Z', '--out', out], { home }));
    expect(window).toMatchObject({ records: 2, firstSeq: 2, lastSeq: 3, checkpoint: { seq: rows.length } });
    // The global --actor names who runs the export; it is not a filter here.
    expect(ok(kj(['audit', 'export', '--actor', 'nobody', '--out', out], { home })).records).toBe(rows.length);
  });

  it('the text form says what it wrote and where to keep the checkpoint', () => {
    const r = run(['audit', 'export', '--out', join(home, 'e2.jsonl'), '--checkpoint', join(home, 'c2.json')]);
    expect(r.stdout).toMatch(/^exported \d+ records \(seq 1\.\.\d+\) to /);
    expect(r.stdout).toContain('keep it away from this host');
  });

  it('an export of nothing is an empty file, not an error', () => {
    const out = join(home, 'empty.jsonl');
    const d = ok(kj(['audit', 'export', '--since-seq', '100000', '--out', out], { home }));
    expect(d).toMatchObject({ records: 0, firstSeq: null, lastSeq: null });
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});
