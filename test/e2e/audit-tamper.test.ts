import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, type RunResult } from '../helpers/cli.js';
import { kj, kmsAsync, ok, pkcs11Tool, tokenObjects } from '../helpers/e2e.js';
import { tokenAttributes } from '../helpers/lifecycle.js';
import { GENESIS, appendRaw, auditRows as rows, docHash, restoreLedger, snapshotLedger, sqlite, type AuditRow as Row } from '../helpers/audit.js';

// The attacker of SPEC section 6: someone who can write ledger.db (the sqlite3 CLI) but cannot log in
// to the token. Every attack must be reported by `audit verify` at the right sequence number, through
// the built CLI, with the seals checked on a real SoftHSM token. The hashes an attacker recomputes are
// computed here from docs/audit-format.md alone.

interface Verdict {
  code: number;
  doc: any;
}

function verify(home: string, extra: string[] = []): Verdict {
  const r = kms(['audit', 'verify', '--json', ...extra], { home });
  expect(r.stdout + r.stderr).not.toContain('    at ');
  const doc = JSON.parse(r.stdout);
  return { code: r.code, doc };
}

function broken(home: string, seq: number, kind: string, extra: string[] = []): any {
  const v = verify(home, extra);
  expect(v.code, JSON.stringify(v.doc)).toBe(1);
  expect(v.doc.ok).toBe(false);
  expect(v.doc.intact).toBe(false);
  expect(v.doc.error).toMatchObject({ code: 'check-failed', exitCode: 1, reason: kind });
  expect(v.doc.break).toMatchObject({ seq, kind });
  expect(v.doc.error.message).toContain(`seq ${seq} (${kind})`);
  // For people: one line on stderr naming the same record.
  const plain = kms(['audit', 'verify', ...extra], { home });
  expect(plain.code).toBe(1);
  expect(plain.stdout).toBe('');
  expect(plain.stderr.trim().split('\n')).toHaveLength(1);
  expect(plain.stderr).toContain(`broken at seq ${seq} (${kind})`);
  return v.doc;
}

let home: string;
let snapshot: string;
let n: number;

function restore(): void {
  restoreLedger(home, snapshot);
}

function run(args: string[], input?: string | Buffer): RunResult {
  const r = kms(args, { home, input });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

beforeAll(() => {
  home = initHome();
  const dek = Buffer.from('d3k-material-0123456789abcdef!!!');
  writeFileSync(join(home, 'dek'), dek);
  writeFileSync(join(home, 'msg'), 'release 1.2.3 tarball bytes');
  run(['create', 'payments', '--spec', 'aes-256']);
  run(['create', 'release', '--spec', 'ec-p256']);
  run(['create', 'hooks', '--spec', 'hmac-sha256']);
  const blob = run(['wrap', 'payments', '--in', join(home, 'dek'), '--context', 'tenant=acme']).stdout;
  writeFileSync(join(home, 'blob'), blob);
  run(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=acme', '--out', join(home, 'dek.out')]);
  expect(kms(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=other'], { home }).code).toBe(65);
  run(['sign', 'release', '--in', join(home, 'msg'), '--out', join(home, 'sig')]);
  run(['verify', 'release', '--in', join(home, 'msg'), '--signature', join(home, 'sig')]);
  run(['mac', 'hooks', '--in', join(home, 'msg')]);
  run(['rotate', 'payments']);
  run(['wrap', 'payments', '--in', join(home, 'dek')]);
  snapshot = snapshotLedger(home);
  n = rows(home).length;
  expect(n).toBeGreaterThanOrEqual(12);
});

afterAll(() => removeDir(home));

describe('an untouched trail', () => {
  it('verifies: exit 0, every record sealed and checked on the token', () => {
    restore();
    const v = verify(home);
    expect(v.code).toBe(0);
    expect(v.doc).toMatchObject({ ok: true, intact: true, records: n, firstSeq: 1, lastSeq: n, sealsChecked: true, sealed: n, unsealed: { count: 0 } });
    const text = run(['audit', 'verify']).stdout;
    expect(text).toContain(`audit trail intact: ${n} records (seq 1..${n})`);
    expect(text).toContain(`seals: ${n} checked with the token's audit key, all good`);
  });

  it('each record\'s hash is the documented SHA-256, chained from 32 zero bytes', () => {
    restore();
    let prev = GENESIS;
    for (const r of rows(home)) {
      expect(r.prev_hash).toBe(prev);
      expect(docHash(r, prev)).toBe(r.hash);
      expect(r.seal).toMatch(/^[0-9a-f]{64}$/);
      prev = r.hash;
    }
  });

  it('each seal is the documented HMAC under the seal key that pkcs11-tool derives from the audit key', () => {
    restore();
    const keyId = sqlite(home, "SELECT value FROM meta WHERE name = 'audit_key_id'").trim();
    const label = join(home, 'seal-key-label');
    writeFileSync(label, 'kmsctl audit seal key v1');
    const out = join(home, 'seal-key');
    const r = pkcs11Tool(home, ['--sign', '-m', 'SHA256-HMAC', '--id', keyId, '-i', label, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    const sealKey = readFileSync(out);
    rmSync(out);
    expect(sealKey).toHaveLength(32);
    const all = rows(home);
    expect(all).toHaveLength(n);
    for (const row of all) expect(row.seal, `seq ${row.seq}`).toBe(createHmac('sha256', sealKey).update(Buffer.from(row.hash, 'hex')).digest('hex'));
  });

  it('verify writes nothing: the trail is byte for byte the same afterwards', () => {
    restore();
    const before = rows(home);
    verify(home);
    verify(home, ['--chain-only']);
    expect(rows(home)).toEqual(before);
  });

  it('--chain-only needs no token: it works with no PKCS#11 module at all', () => {
    restore();
    const r = kj(['audit', 'verify', '--chain-only'], { home, env: { KMSCTL_MODULE: '/nonexistent/libnothing.so' } });
    const d = ok(r);
    expect(d).toMatchObject({ intact: true, sealsChecked: false, sealed: 0, records: n });
  });
});

describe('the attacker edits one field of a record', () => {
  const target = 5;
  const edits: Record<string, string> = {
    ts: "ts = '2020-01-01T00:00:00.000Z'",
    actor: "actor = 'mallory'",
    os_user: "os_user = 'mallory'",
    host: "host = 'laptop-of-mallory'",
    command: "command = 'verify'",
    key_id: "key_id = 'k_00000000000000000000'",
    alias: "alias = 'someone-else'",
    version: 'version = 9',
    outcome: "outcome = CASE outcome WHEN 'success' THEN 'failure' ELSE 'success' END",
    error_code: "error_code = 'denied'",
    duration_ms: 'duration_ms = duration_ms + 1',
    details: `details = '{"inputBytes":1}'`,
    prev_hash: 'prev_hash = randomblob(32)',
    hash: 'hash = randomblob(32)',
  };
  for (const [field, set] of Object.entries(edits)) {
    it(`${field}: edited at seq ${target}`, () => {
      restore();
      sqlite(home, `UPDATE audit SET ${set} WHERE seq = ${target}`);
      const doc = broken(home, target, 'edited');
      expect(doc.error.hint).toContain('kmsctl audit --since-seq');
    });
  }

  it('seal: a random seal is a bad seal at that seq', () => {
    restore();
    sqlite(home, `UPDATE audit SET seal = randomblob(32) WHERE seq = ${target}`);
    broken(home, target, 'bad-seal');
  });

  it('seal: another record\'s seal is a bad seal', () => {
    restore();
    sqlite(home, `UPDATE audit SET seal = (SELECT seal FROM audit WHERE seq = 2) WHERE seq = ${target}`);
    broken(home, target, 'bad-seal');
  });

  it('seal: a removed seal, with sealed records after it, is a bad seal', () => {
    restore();
    sqlite(home, `UPDATE audit SET seal = NULL WHERE seq = ${target}`);
    broken(home, target, 'bad-seal');
  });
});

describe('the attacker edits a record and recomputes the whole chain with sha256', () => {
  it('the chain alone cannot tell (--chain-only passes); the seals can, at the edited record', () => {
    restore();
    const target = 6;
    sqlite(home, `UPDATE audit SET actor = 'mallory', outcome = 'success', error_code = NULL WHERE seq = ${target}`);
    const all = rows(home);
    let prev = all[target - 2].hash;
    const updates: string[] = [];
    for (const r of all.slice(target - 1)) {
      const h = docHash(r, prev);
      updates.push(`UPDATE audit SET prev_hash = X'${prev}', hash = X'${h}' WHERE seq = ${r.seq};`);
      prev = h;
    }
    sqlite(home, `BEGIN; ${updates.join(' ')} COMMIT;`);
    expect(verify(home, ['--chain-only']).code).toBe(0);
    broken(home, target, 'bad-seal');
  });
});

describe('the attacker removes, adds or moves records', () => {
  it('deleting a middle record: deleted at its seq', () => {
    restore();
    sqlite(home, 'DELETE FROM audit WHERE seq = 7');
    broken(home, 7, 'deleted');
  });

  it('deleting a middle record and renumbering the ones after it: still deleted at that seq', () => {
    restore();
    sqlite(home, 'DELETE FROM audit WHERE seq = 7; UPDATE audit SET seq = -(seq - 1) WHERE seq > 7; UPDATE audit SET seq = -seq WHERE seq < 0;');
    broken(home, 7, 'deleted');
  });

  it('inserting a record in the middle, its hash computed by the documented rule: inserted at its seq', () => {
    restore();
    const at = 4;
    sqlite(home, `UPDATE audit SET seq = -(seq + 1) WHERE seq >= ${at}; UPDATE audit SET seq = -seq WHERE seq < 0;`);
    const prev = rows(home).find((r) => r.seq === at - 1)!.hash;
    const fake: Row = { seq: at, ts: '2026-01-01T00:00:00.000Z', actor: 'alice', os_user: 'alice', host: 'build-7', command: 'unwrap', key_id: null, alias: 'payments', version: 1, outcome: 'success', error_code: null, duration_ms: 2, details: '{}', prev_hash: prev, hash: '', seal: null };
    const h = docHash(fake, prev);
    sqlite(home, `INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash, seal)
      VALUES (${at}, '${fake.ts}', 'alice', 'alice', 'build-7', 'unwrap', NULL, 'payments', 1, 'success', NULL, 2, '{}', X'${prev}', X'${h}', randomblob(32))`);
    broken(home, at, 'inserted');
  });

  it('swapping two records: reordered at the first of them', () => {
    restore();
    sqlite(home, 'UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = -1;');
    broken(home, 3, 'reordered');
  });

  it('swapping the contents of two neighbouring rows: reordered', () => {
    restore();
    const cols = 'ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash, seal';
    sqlite(home, `CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (9, 10);
      UPDATE audit SET (${cols}) = (SELECT ${cols} FROM t WHERE t.seq = 10) WHERE seq = 9;
      UPDATE audit SET (${cols}) = (SELECT ${cols} FROM t WHERE t.seq = 9) WHERE seq = 10;`);
    broken(home, 9, 'reordered');
  });

  it('appending a record with a forged seal: bad seal at its seq', () => {
    restore();
    const last = rows(home).at(-1)!;
    const fake: Row = { seq: n + 1, ts: new Date().toISOString(), actor: 'alice', os_user: 'alice', host: 'build-7', command: 'unwrap', key_id: null, alias: 'payments', version: 1, outcome: 'success', error_code: null, duration_ms: 1, details: '{}', prev_hash: last.hash, hash: '', seal: null };
    const h = docHash(fake, last.hash);
    sqlite(home, `INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash, seal)
      VALUES (${n + 1}, '${fake.ts}', 'alice', 'alice', 'build-7', 'unwrap', NULL, 'payments', 1, 'success', NULL, 1, '{}', X'${last.hash}', X'${h}', randomblob(32))`);
    expect(verify(home, ['--chain-only']).code).toBe(0);
    broken(home, n + 1, 'bad-seal');
  });
});

describe('truncation of the newest records', () => {
  it('is invisible to the chain, and caught with a checkpoint kept elsewhere', () => {
    restore();
    const cp = join(home, 'checkpoint.json');
    const d = ok(kj(['audit', 'export', '--out', join(home, 'audit.jsonl'), '--checkpoint', cp], { home }));
    expect(d.checkpoint).toMatchObject({ seq: n, format: 'kmsctl-audit-checkpoint', version: 1 });
    const doc = JSON.parse(readFileSync(cp, 'utf8'));
    expect(doc).toMatchObject({ seq: n, hash: rows(home).at(-1)!.hash, seal: rows(home).at(-1)!.seal });
    expect(verify(home, ['--checkpoint', cp])).toMatchObject({ code: 0, doc: { checkpoint: { seq: n, matched: true } } });

    sqlite(home, `DELETE FROM audit WHERE seq > ${n - 3}`);
    expect(verify(home).code).toBe(0);
    const b = broken(home, n - 2, 'truncated', ['--checkpoint', cp]);
    expect(b.break.message).toContain(`the ledger ends at ${n - 3}`);
  });

  it('a checkpoint still matches after new records were added', () => {
    restore();
    const cp = join(home, 'checkpoint-old.json');
    ok(kj(['audit', 'export', '--out', join(home, 'audit.jsonl'), '--checkpoint', cp], { home }));
    run(['wrap', 'payments', '--in', join(home, 'dek')]);
    expect(verify(home, ['--checkpoint', cp])).toMatchObject({ code: 0, doc: { intact: true, records: n + 1, checkpoint: { seq: n, matched: true } } });
  });
});

describe('records written without a token session', () => {
  it('an offline verify stays unsealed, reported apart (exit 0), and the next token command seals it', () => {
    restore();
    run(['verify', 'release', '--in', join(home, 'msg'), '--signature', join(home, 'sig')]);
    const v = verify(home);
    expect(v.code).toBe(0);
    expect(v.doc).toMatchObject({ intact: true, sealed: n, unsealed: { count: 1, firstSeq: n + 1, lastSeq: n + 1 } });
    expect(run(['audit', 'verify']).stdout).toContain(`unsealed: 1 record (seq ${n + 1})`);
    run(['mac', 'hooks', '--in', join(home, 'msg')]);
    expect(verify(home).doc).toMatchObject({ intact: true, sealed: n + 2, unsealed: { count: 0 } });
  });

  it('a failed login leaves an unsealed record that is sealed later', () => {
    restore();
    expect(kms(['wrap', 'payments', '--in', join(home, 'dek')], { home, env: { KMSCTL_PIN: 'wrong-pin-1234' } }).code).toBe(77);
    const after = rows(home);
    if (after.length > n) {
      expect(after.at(-1)!.seal).toBeNull();
      run(['wrap', 'payments', '--in', join(home, 'dek')]);
      expect(rows(home).every((r) => r.seal !== null)).toBe(true);
    }
    expect(verify(home).code).toBe(0);
  });

  it('a record the attacker appends without a seal is listed as unsealed, not as proven (a checkpoint catches the rewrite)', () => {
    restore();
    const cp = join(home, 'cp-before-append.json');
    ok(kj(['audit', 'export', '--out', join(home, 'z.jsonl'), '--checkpoint', cp], { home }));
    const { seq: _s, prev_hash: _p, hash: _h, seal: _x, ...last } = rows(home).at(-1)!;
    sqlite(home, `DELETE FROM audit WHERE seq = ${n}`);
    appendRaw(home, [{ ...last, actor: 'mallory' }]);
    const v = verify(home);
    expect(v.code).toBe(0);
    expect(v.doc.unsealed).toEqual({ count: 1, firstSeq: n, lastSeq: n });
    broken(home, n, 'rewritten', ['--checkpoint', cp]);
  });

  it('an unsealed record edited while it waits is not sealed by the next command, and verify names it', () => {
    restore();
    run(['verify', 'release', '--in', join(home, 'msg'), '--signature', join(home, 'sig')]);
    sqlite(home, `UPDATE audit SET actor = 'mallory' WHERE seq = ${n + 1}`);
    run(['mac', 'hooks', '--in', join(home, 'msg')]);
    expect(rows(home).find((r) => r.seq === n + 1)!.seal).toBeNull();
    broken(home, n + 1, 'edited');
  });
});

describe('concurrent writers', () => {
  it('8 processes with and without token sessions never fork or break the chain', async () => {
    restore();
    const jobs = Array.from({ length: 24 }, (_, i) =>
      i % 3 === 0
        ? ['verify', 'release', '--in', join(home, 'msg'), '--signature', join(home, 'sig')]
        : i % 3 === 1 ? ['wrap', 'payments', '--in', join(home, 'dek')] : ['mac', 'hooks', '--in', join(home, 'msg')],
    );
    const results = await Promise.all(jobs.slice(0, 8).map(async (_, w) => {
      const mine = jobs.filter((__, i) => i % 8 === w);
      const codes: number[] = [];
      for (const args of mine) codes.push((await kmsAsync(args, { home })).code);
      return codes;
    }));
    expect(results.flat().filter((c) => c !== 0 && c !== 75)).toEqual([]);
    const all = rows(home);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    const v = verify(home);
    expect(v.code, JSON.stringify(v.doc)).toBe(0);
    expect(v.doc.intact).toBe(true);
    // Whatever is still unsealed is at the tail, after the last command that had a token session.
    if (v.doc.unsealed.count > 0) expect(v.doc.unsealed.lastSeq).toBe(all.length);
  });
});

describe('the audit key', () => {
  it('is one generic secret on the token labelled kmsctl-audit: sign/verify only, sensitive, never extractable', () => {
    const keyId = sqlite(home, "SELECT value FROM meta WHERE name = 'audit_key_id'").trim();
    expect(keyId).toMatch(/^[0-9a-f]{32}$/);
    const audit = tokenObjects(home).filter((o) => o.label === 'kmsctl-audit');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ cls: 'secret', id: keyId, type: 'Generic secret length 32' });
    expect(audit[0].access).toEqual(expect.arrayContaining(['sensitive', 'always sensitive', 'never extractable', 'local']));
    // pkcs11-tool prints only "verify" as the usage of a generic secret, so read the flags themselves.
    const flags = ['CKA_SIGN', 'CKA_VERIFY', 'CKA_ENCRYPT', 'CKA_DECRYPT', 'CKA_WRAP', 'CKA_UNWRAP', 'CKA_DERIVE', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_PRIVATE', 'CKA_TOKEN'];
    const a = tokenAttributes(home, 'secret', keyId, { CKA_EXTRACTABLE: true }, flags);
    expect(a.handles).toBe(1);
    expect(a.set.CKA_EXTRACTABLE).not.toBe('ok');
    expect(a.get).toEqual({ CKA_SIGN: true, CKA_VERIFY: true, CKA_ENCRYPT: false, CKA_DECRYPT: false, CKA_WRAP: false, CKA_UNWRAP: false, CKA_DERIVE: false, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_PRIVATE: true, CKA_TOKEN: true });
  });

  it('a second init makes no second key and writes no record', () => {
    restore();
    const before = rows(home).length;
    const d = ok(kj(['init'], { home }));
    expect(d).toMatchObject({ changed: false, auditKeyCreated: false });
    expect(rows(home).length).toBe(before);
    expect(tokenObjects(home).filter((o) => o.label === 'kmsctl-audit')).toHaveLength(1);
  });

  it('a ledger whose reference to the key was deleted still verifies (found by label), and the next command restores it', () => {
    restore();
    sqlite(home, "DELETE FROM meta WHERE name = 'audit_key_id'");
    const v = verify(home);
    expect(v.code).toBe(0);
    expect(v.doc.auditKey.recovered).toBe(true);
    run(['mac', 'hooks', '--in', join(home, 'msg')]);
    expect(sqlite(home, "SELECT value FROM meta WHERE name = 'audit_key_id'").trim()).toMatch(/^[0-9a-f]{32}$/);
    expect(verify(home).doc).toMatchObject({ intact: true, auditKey: { recovered: false } });
    expect(tokenObjects(home).filter((o) => o.label === 'kmsctl-audit')).toHaveLength(1);
  });

  it('pointing the ledger at a user\'s HMAC key is refused (78), not used for seals', () => {
    restore();
    const hooksId = sqlite(home, "SELECT lower(hex(cka_id)) FROM versions v JOIN keys k ON k.id = v.key_id WHERE k.alias = 'hooks'").trim();
    sqlite(home, `UPDATE meta SET value = '${hooksId}' WHERE name = 'audit_key_id'`);
    const r = kj(['audit', 'verify'], { home });
    expect(r.code).toBe(78);
    expect(r.json.error.reason).toBe('audit-key-mismatch');
    const before = rows(home).length;
    expect(kms(['mac', 'hooks', '--in', join(home, 'msg')], { home }).code).toBe(78);
    expect(rows(home).length).toBe(before);
  });
});

describe('a ledger from before seals', () => {
  it('gets its audit key at the first token session, once, and all its records sealed', () => {
    const old = initHome();
    try {
      // Make it look like a ledger written before sealing existed: no audit key, no reference, no seals.
      expect(kms(['create', 'legacy', '--spec', 'aes-256'], { home: old }).code).toBe(0);
      const keyId = sqlite(old, "SELECT value FROM meta WHERE name = 'audit_key_id'").trim();
      expect(pkcs11Tool(old, ['--delete-object', '--type', 'secrkey', '--id', keyId]).code).toBe(0);
      sqlite(old, "DELETE FROM meta WHERE name = 'audit_key_id'; UPDATE audit SET seal = NULL;");
      expect(tokenObjects(old).filter((o) => o.label === 'kmsctl-audit')).toHaveLength(0);
      // Until a token session, verify says there is nothing to check the seals with, and exits 0.
      const pre = kj(['audit', 'verify'], { home: old });
      expect(pre.code).toBe(0);
      expect(pre.json).toMatchObject({ intact: true, sealsChecked: false, auditKey: null, unsealed: { count: 2 } });

      expect(kms(['wrap', 'legacy', '--in', join(home, 'dek')], { home: old }).code).toBe(0);
      expect(tokenObjects(old).filter((o) => o.label === 'kmsctl-audit')).toHaveLength(1);
      const post = kj(['audit', 'verify'], { home: old });
      expect(post.code).toBe(0);
      expect(post.json).toMatchObject({ intact: true, sealsChecked: true, records: 4, sealed: 4, unsealed: { count: 0 } });
      const made = ok(kj(['audit', '--action', 'audit-key'], { home: old })).records;
      expect(made).toHaveLength(1);
      expect(made[0].details).toMatchObject({ created: true, label: 'kmsctl-audit' });

      expect(ok(kj(['init'], { home: old })).auditKeyCreated).toBe(false);
      expect(tokenObjects(old).filter((o) => o.label === 'kmsctl-audit')).toHaveLength(1);
    } finally {
      removeDir(old);
    }
  });
});

describe('bad input changes nothing', () => {
  const same = (fn: () => void) => {
    restore();
    const before = rows(home);
    fn();
    expect(rows(home)).toEqual(before);
  };

  it.each([
    ['not JSON', 'this is not a checkpoint'],
    ['wrong format', JSON.stringify({ format: 'other', version: 1, seq: 1, hash: 'ab'.repeat(32), seal: null })],
    ['a hash that is not hex', JSON.stringify({ format: 'kmsctl-audit-checkpoint', version: 1, seq: 1, hash: 'zz', seal: null })],
  ])('a malformed checkpoint (%s): exit 65', (_name, text) => {
    same(() => {
      const f = join(home, 'bad-checkpoint.json');
      writeFileSync(f, text);
      const r = kj(['audit', 'verify', '--checkpoint', f], { home });
      expect(r.code).toBe(65);
      expect(r.json.error).toMatchObject({ code: 'bad-data', exitCode: 65, reason: 'bad-checkpoint' });
      const plain = kms(['audit', 'verify', '--checkpoint', f], { home });
      expect(plain.code).toBe(65);
      expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    });
  });

  it('a checkpoint whose seal was altered: exit 65', () => {
    same(() => {
      const f = join(home, 'cp-altered.json');
      ok(kj(['audit', 'export', '--out', join(home, 'x.jsonl'), '--checkpoint', f], { home }));
      const doc = JSON.parse(readFileSync(f, 'utf8'));
      writeFileSync(f, JSON.stringify({ ...doc, seal: 'ab'.repeat(32) }));
      const r = kj(['audit', 'verify', '--checkpoint', f], { home });
      expect(r.code).toBe(65);
      expect(r.json.error.reason).toBe('checkpoint-seal');
    });
  });

  it.each([
    [['audit', '--since', 'tomorrow']],
    [['audit', '--until', 'yesterday-ish']],
    [['audit', '--since', '2026-02-30']],
    [['audit', '--since', '2999-01-01']],
    [['audit', '--outcome', 'maybe']],
    [['audit', '--colour', 'red']],
    [['audit', '--version', '2']],
    [['audit', '--json', '--jsonl']],
    [['audit', 'export', '--since', 'tomorrow', '--out', 'x.jsonl']],
    [['audit', 'export']],
  ])('%j: exit 64', (args) => {
    same(() => {
      const r = kj(args, { home });
      expect(r.code, r.stdout).toBe(64);
      expect(r.json.error.code).toBe('usage');
    });
  });

  it('a checkpoint file that does not exist: exit 66 (no input), naming the file', () => {
    same(() => {
      const r = kj(['audit', 'verify', '--checkpoint', 'no-such-file.json'], { home });
      expect(r.code, r.stdout).toBe(66);
      expect(r.json.error.code).toBe('not-found');
      expect(r.json.error.message).toContain('no-such-file.json');
    });
  });

  it('a ledger from a newer kmsctl: exit 78 for verify, queries and export', () => {
    restore();
    sqlite(home, 'PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE);');
    const before = readFileSync(join(home, 'ledger.db'));
    for (const args of [['audit', 'verify'], ['audit'], ['audit', 'export', '--out', join(home, 'y.jsonl')]]) {
      const r = kj(args, { home });
      expect(r.code, JSON.stringify(r.json)).toBe(78);
      expect(r.json.error.reason).toBe('ledger-too-new');
    }
    expect(existsSync(join(home, 'y.jsonl'))).toBe(false);
    sqlite(home, 'PRAGMA wal_checkpoint(TRUNCATE)');
    expect(readFileSync(join(home, 'ledger.db'))).toEqual(before);
  });
});
