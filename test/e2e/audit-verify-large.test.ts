import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir } from '../helpers/cli.js';
import { appendRawMany, auditRows, docHash, restoreLedger, snapshotLedger, sqlite } from '../helpers/audit.js';

// audit verify on a trail large enough to be scanned in two halves at once (60,000 records on a real
// SoftHSM token, sealed by a token command): an intact trail says so with both threads, and every
// attack is still named at its own sequence number, in the older half, the newer half and at the join.

const EXTRA = 60_000;
let home: string;
let snapshot: string;
let n: number;
let mid: number;

function restore(): void {
  restoreLedger(home, snapshot);
}

function verify(extra: string[] = []): { code: number; doc: any } {
  const r = kms(['audit', 'verify', '--json', ...extra], { home });
  expect(r.stderr).not.toContain('    at ');
  return { code: r.code, doc: JSON.parse(r.stdout) };
}

function broken(seq: number, kind: string, extra: string[] = []): void {
  const v = verify(extra);
  expect(v.code, JSON.stringify(v.doc).slice(0, 400)).toBe(1);
  expect(v.doc.break).toMatchObject({ seq, kind });
}

beforeAll(() => {
  home = initHome();
  expect(kms(['create', 'bulk', '--spec', 'aes-256'], { home }).code).toBe(0);
  const t0 = Date.UTC(2026, 0, 1);
  appendRawMany(home, EXTRA, (i) => ({
    ts: new Date(t0 + i * 1000).toISOString(), actor: i % 3 ? 'ci' : 'alice', os_user: 'build', host: `runner-${i % 7}`, command: i % 2 ? 'wrap' : 'unwrap',
    key_id: null, alias: 'bulk', version: 1, outcome: i % 50 ? 'success' : 'failure', error_code: i % 50 ? null : 'context-mismatch', duration_ms: i % 9, details: `{"batch":true,"line":${i + 1}}`,
  }));
  // The next command with a token session seals every waiting record.
  writeFileSync(join(home, 'dek'), Buffer.alloc(32, 7));
  expect(kms(['wrap', 'bulk', '--in', join(home, 'dek')], { home }).code).toBe(0);
  snapshot = snapshotLedger(home);
  n = Number(sqlite(home, 'SELECT max(seq) FROM audit').trim());
  mid = Math.floor(n / 2);
  expect(n).toBeGreaterThan(EXTRA);
  expect(Number(sqlite(home, 'SELECT count(*) FROM audit WHERE seal IS NULL').trim())).toBe(0);
}, 300_000);

afterAll(() => removeDir(home));

describe('a large trail', () => {
  it('verifies intact on two threads, every seal checked', () => {
    restore();
    const v = verify();
    expect(v.code).toBe(0);
    expect(v.doc).toMatchObject({ ok: true, intact: true, records: n, firstSeq: 1, lastSeq: n, sealsChecked: true, sealed: n, unsealed: { count: 0 }, threads: 2 });
    expect(verify(['--chain-only']).doc).toMatchObject({ intact: true, records: n, sealsChecked: false, sealed: 0, threads: 2 });
  });

  it('an edit in the older half is named at its seq', () => {
    restore();
    sqlite(home, `UPDATE audit SET actor = 'mallory' WHERE seq = 1234`);
    broken(1234, 'edited');
  });

  it('an edit in the newer half is named at its seq', () => {
    restore();
    sqlite(home, `UPDATE audit SET duration_ms = duration_ms + 1 WHERE seq = ${n - 77}`);
    broken(n - 77, 'edited');
  });

  it('a deletion at the join of the halves is named', () => {
    restore();
    sqlite(home, `DELETE FROM audit WHERE seq = ${mid + 1}`);
    broken(mid + 1, 'deleted');
  });

  it('a bad seal right after the join is named', () => {
    restore();
    sqlite(home, `UPDATE audit SET seal = randomblob(32) WHERE seq = ${mid + 1}`);
    broken(mid + 1, 'bad-seal');
  });

  it('a removed seal in the older half, with sealed records after it, is a bad seal', () => {
    restore();
    sqlite(home, `UPDATE audit SET seal = NULL WHERE seq = 4321`);
    broken(4321, 'bad-seal');
  });

  it('an edit with the whole chain recomputed after it passes the chain but not the seals', () => {
    restore();
    const target = n - 500;
    const rows = auditRows(home).filter((r) => r.seq >= target - 1);
    let prev = rows[0].hash;
    const stmts = ['BEGIN;'];
    for (const r of rows.slice(1)) {
      const edited = r.seq === target ? { ...r, actor: 'mallory' } : r;
      const h = docHash(edited, prev);
      stmts.push(`UPDATE audit SET actor = '${edited.actor}', prev_hash = X'${prev}', hash = X'${h}' WHERE seq = ${r.seq};`);
      prev = h;
    }
    stmts.push('COMMIT;');
    writeFileSync(join(home, 'rechain.sql'), stmts.join('\n'));
    sqlite(home, `.read ${join(home, 'rechain.sql')}`);
    expect(verify(['--chain-only']).doc).toMatchObject({ intact: true, records: n });
    broken(target, 'bad-seal');
  });

  it('cutting off the newest records is caught with a checkpoint', () => {
    restore();
    const cp = join(home, 'cp.json');
    expect(kms(['audit', 'export', '--out', join(home, 'all.jsonl'), '--checkpoint', cp], { home }).code).toBe(0);
    const last = Number(sqlite(home, 'SELECT max(seq) FROM audit').trim());
    sqlite(home, `DELETE FROM audit WHERE seq > ${last - 10}`);
    expect(verify().doc).toMatchObject({ intact: true, threads: 2 });
    broken(last - 9, 'truncated', ['--checkpoint', cp]);
  });
});
