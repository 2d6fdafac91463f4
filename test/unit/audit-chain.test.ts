import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLedger, type Db } from '../../src/ledger/db.js';
import { appendAudit, sealPendingInTx, type Actor, type AuditEntry, type Sealer } from '../../src/audit/append.js';
import { ENCODED_COLUMNS, GENESIS_HASH, recordHash, rowHash, type AuditFields } from '../../src/audit/canonical.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { parseCheckpoint, takeCheckpoint } from '../../src/audit/checkpoint.js';
import { KmsError } from '../../src/errors.js';

// The chain and the verifier's diagnosis, on a ledger file with a software HMAC standing in for the
// token's audit key. test/e2e/audit-tamper.test.ts runs the same attacks through the CLI on SoftHSM.

function softSealer(key = randomBytes(32)): Sealer {
  const mac = (h: Buffer) => createHmac('sha256', key).update(h).digest();
  return { seal: mac, check: (h, s) => s.length === 32 && timingSafeEqual(mac(h), s) };
}

const who: Actor = { actor: 'alice', osUser: 'alice', host: 'ci-1' };
const entry = (i: number): AuditEntry => ({ command: i % 2 ? 'wrap' : 'sign', keyId: 'k_1', alias: 'payments', version: 1, outcome: 'success', durationMs: i, details: { n: i } });

/** The documented encoding, written out again from docs/audit-format.md rather than imported. */
function documentedHash(r: AuditFields, prev: Buffer): Buffer {
  const arr = [1, r.seq, r.ts, r.actor, r.os_user, r.host, r.command, r.key_id, r.alias, r.version, r.outcome, r.error_code, r.duration_ms, r.details, prev.toString('hex')];
  return createHash('sha256').update(JSON.stringify(arr), 'utf8').digest();
}

let home: string;
let db: Db;
let sealer: Sealer;

function write(n: number, sealed = true): void {
  for (let i = 0; i < n; i++) appendAudit(db, who, [entry(i)], new Date(Date.UTC(2026, 4, 1, 12, 0, i)), sealed ? sealer : undefined);
}
const exec = (sql: string) => db.exec(sql);
/** Recomputes hash and prev_hash of every record from `from` on, as an attacker with sha256 would. */
function rechain(from: number): void {
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(from) as Array<AuditFields & { prev_hash: Buffer; hash: Buffer }>;
  let prev = from === 1 ? GENESIS_HASH : (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(from - 1) as { hash: Buffer }).hash;
  for (const r of rows) {
    const h = documentedHash(r, prev);
    db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, r.seq);
    prev = h;
  }
}
const verdict = (o: Parameters<typeof verifyAudit>[1] = { sealer }) => {
  const r = verifyAudit(db, o);
  return r.break ? { seq: r.break.seq, kind: r.break.kind } : 'intact';
};

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'kmsctl-chain-'));
  db = openLedger(home, { create: true });
  sealer = softSealer();
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

describe('canonical encoding v1 (frozen)', () => {
  it('golden vector: this record hashes to this value forever', () => {
    const r: AuditFields = {
      seq: 7, ts: '2026-05-01T12:00:00.000Z', actor: 'alice', os_user: 'alice', host: 'ci-1', command: 'unwrap', key_id: 'k_00112233445566778899', alias: 'payments',
      version: 2, outcome: 'failure', error_code: 'context-mismatch', duration_ms: 12, details: '{"contextKeys":["tenant"],"note":"ü \\"q\\""}',
    };
    const prev = Buffer.from('9f'.repeat(32), 'hex');
    expect(recordHash(r, prev).toString('hex')).toBe('a937e8097aad0c09d49714f4082909ff4b34124f3ee6e72c7ea738ab96999282');
    expect(documentedHash(r, prev)).toEqual(recordHash(r, prev));
  });

  it('the raw-row hash that audit verify walks with is the same hash, for every record written', () => {
    write(5);
    const rows = db.prepare(`SELECT ${ENCODED_COLUMNS}, prev_hash, hash FROM audit ORDER BY seq`).raw().all() as unknown[][];
    expect(rows).toHaveLength(5);
    for (const row of rows) expect(rowHash(row, (row[13] as Buffer).toString('hex'))).toEqual(row[14]);
  });

  it('the first record links to 32 zero bytes and hashes as documented', () => {
    write(1);
    const row = db.prepare('SELECT * FROM audit').get() as AuditFields & { prev_hash: Buffer; hash: Buffer };
    expect(row.prev_hash).toEqual(GENESIS_HASH);
    expect(row.key_id).toBe('k_1');
    expect(documentedHash(row, GENESIS_HASH)).toEqual(row.hash);
  });
});

describe('sealing', () => {
  it('records written with a sealer are sealed; without one they wait, and the next sealed write seals them first', () => {
    write(2);
    write(2, false);
    expect(verifyAudit(db, { sealer }).unsealed).toEqual({ count: 2, firstSeq: 3, lastSeq: 4 });
    expect(verdict()).toBe('intact');
    write(1);
    const r = verifyAudit(db, { sealer });
    expect(r).toMatchObject({ intact: true, records: 5, sealed: 5, unsealed: { count: 0 } });
  });

  it('a waiting record that was tampered with is not sealed, and verify names it', () => {
    write(2);
    write(3, false);
    exec("UPDATE audit SET actor = 'mallory' WHERE seq = 4");
    expect(db.transaction(() => sealPendingInTx(db, sealer))()).toBe(1);
    expect((db.prepare('SELECT seq FROM audit WHERE seal IS NULL ORDER BY seq').all() as Array<{ seq: number }>).map((x) => x.seq)).toEqual([4, 5]);
    expect(verdict()).toEqual({ seq: 4, kind: 'edited' });
  });
});

describe('verify names the first break and its kind', () => {
  beforeEach(() => write(10));

  it('an untouched trail verifies', () => {
    expect(verifyAudit(db, { sealer })).toMatchObject({ intact: true, records: 10, firstSeq: 1, lastSeq: 10, sealed: 10, sealsChecked: true });
  });

  it.each(['ts', 'actor', 'os_user', 'host', 'command', 'key_id', 'alias', 'version', 'outcome', 'error_code', 'duration_ms', 'details', 'prev_hash', 'hash'])('editing %s of record 4', (col) => {
    const value: Record<string, string> = {
      ts: "'2026-05-01T12:00:09.000Z'", actor: "'mallory'", os_user: "'mallory'", host: "'evil'", command: "'sign'", key_id: "'k_2'", alias: "'other'",
      version: '2', outcome: "'failure'", error_code: "'denied'", duration_ms: '999', details: "'{}'", prev_hash: 'randomblob(32)', hash: 'randomblob(32)',
    };
    exec(`UPDATE audit SET ${col} = ${value[col]} WHERE seq = 4`);
    expect(verdict()).toEqual({ seq: 4, kind: 'edited' });
    expect(verdict({})).toEqual({ seq: 4, kind: 'edited' });
  });

  it('editing a seal', () => {
    exec('UPDATE audit SET seal = randomblob(32) WHERE seq = 6');
    expect(verdict()).toEqual({ seq: 6, kind: 'bad-seal' });
  });

  it('copying another record\'s seal', () => {
    exec('UPDATE audit SET seal = (SELECT seal FROM audit WHERE seq = 2) WHERE seq = 6');
    expect(verdict()).toEqual({ seq: 6, kind: 'bad-seal' });
  });

  it('removing a seal in the middle', () => {
    exec('UPDATE audit SET seal = NULL WHERE seq = 6');
    expect(verdict()).toEqual({ seq: 6, kind: 'bad-seal' });
  });

  it('an edit with the whole chain recomputed passes the chain check but not the seals', () => {
    exec("UPDATE audit SET actor = 'mallory' WHERE seq = 5");
    rechain(5);
    expect(verdict({})).toBe('intact');
    expect(verdict()).toEqual({ seq: 5, kind: 'bad-seal' });
  });

  it('an edit with only its own hash recomputed: the next record no longer links to it', () => {
    exec("UPDATE audit SET actor = 'mallory' WHERE seq = 5");
    const r = db.prepare('SELECT * FROM audit WHERE seq = 5').get() as AuditFields & { prev_hash: Buffer };
    db.prepare('UPDATE audit SET hash = ? WHERE seq = 5').run(documentedHash(r, r.prev_hash));
    expect(verdict({})).toEqual({ seq: 5, kind: 'edited' });
    expect(verdict()).toEqual({ seq: 5, kind: 'bad-seal' });
  });

  it('deleting a middle record', () => {
    exec('DELETE FROM audit WHERE seq = 5');
    expect(verdict()).toEqual({ seq: 5, kind: 'deleted' });
  });

  it('deleting three records', () => {
    exec('DELETE FROM audit WHERE seq BETWEEN 4 AND 6');
    const r = verifyAudit(db, { sealer });
    expect(r.break).toMatchObject({ seq: 4, kind: 'deleted' });
    expect(r.break!.message).toContain('4..6');
  });

  it('deleting the first record', () => {
    exec('DELETE FROM audit WHERE seq = 1');
    expect(verdict()).toEqual({ seq: 1, kind: 'deleted' });
  });

  it('deleting a record and renumbering the rest', () => {
    exec('DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = -(seq - 1) WHERE seq > 5; UPDATE audit SET seq = -seq WHERE seq < 0');
    expect(verdict()).toEqual({ seq: 5, kind: 'deleted' });
  });

  it('inserting a forged record in the middle (renumbering the rest, chain computed correctly, no seal)', () => {
    exec('UPDATE audit SET seq = -(seq + 1) WHERE seq >= 5; UPDATE audit SET seq = -seq WHERE seq < 0');
    const prev = (db.prepare('SELECT hash FROM audit WHERE seq = 4').get() as { hash: Buffer }).hash;
    const f: AuditFields = { seq: 5, ts: '2026-05-01T12:00:04.500Z', actor: 'alice', os_user: 'alice', host: 'ci-1', command: 'wrap', key_id: 'k_1', alias: 'payments', version: 1, outcome: 'success', error_code: null, duration_ms: 3, details: '{}' };
    db.prepare('INSERT INTO audit (seq, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash) VALUES (@seq, @ts, @actor, @os_user, @host, @command, @key_id, @alias, @version, @outcome, @error_code, @duration_ms, @details, @prev_hash, @hash)')
      .run({ ...f, prev_hash: prev, hash: documentedHash(f, prev) });
    expect(verdict()).toEqual({ seq: 5, kind: 'inserted' });
    expect(verdict({})).toEqual({ seq: 5, kind: 'inserted' });
  });

  it('inserting a record with a made-up hash and seal in the middle', () => {
    exec('UPDATE audit SET seq = -(seq + 1) WHERE seq >= 5; UPDATE audit SET seq = -seq WHERE seq < 0');
    exec("INSERT INTO audit (seq, ts, actor, os_user, host, command, outcome, duration_ms, prev_hash, hash, seal) VALUES (5, '2026-05-01T12:00:04.500Z', 'alice', 'alice', 'ci-1', 'wrap', 'success', 1, randomblob(32), randomblob(32), randomblob(32))");
    expect(verdict()).toEqual({ seq: 5, kind: 'inserted' });
  });

  it('appending a copy of an old record', () => {
    exec("INSERT INTO audit SELECT 11, ts, actor, os_user, host, command, key_id, alias, version, outcome, error_code, duration_ms, details, prev_hash, hash, seal FROM audit WHERE seq = 3");
    expect(verdict()).toEqual({ seq: 11, kind: 'inserted' });
  });

  it('swapping two records (their sequence numbers)', () => {
    exec('UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = -1');
    expect(verdict()).toEqual({ seq: 3, kind: 'reordered' });
  });

  it('swapping two neighbours', () => {
    exec('UPDATE audit SET seq = -1 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = -1');
    expect(verdict()).toEqual({ seq: 6, kind: 'reordered' });
  });

  it('moving one record to the end', () => {
    exec('UPDATE audit SET seq = 50 WHERE seq = 4');
    expect(verdict()).toEqual({ seq: 4, kind: 'reordered' });
  });

  it('cutting off the newest records is invisible to the chain but not to a checkpoint', () => {
    const cp = parseCheckpoint(JSON.stringify(takeCheckpoint(db, new Date())), 'cp');
    exec('DELETE FROM audit WHERE seq > 7');
    expect(verdict()).toBe('intact');
    expect(verdict({ sealer, checkpoint: cp })).toEqual({ seq: 8, kind: 'truncated' });
  });

  it('cutting off and appending new unsealed records: the checkpoint no longer matches', () => {
    const cp = parseCheckpoint(JSON.stringify(takeCheckpoint(db, new Date())), 'cp');
    exec('DELETE FROM audit WHERE seq > 7');
    write(3, false);
    expect(verdict()).toBe('intact');
    expect(verdict({ sealer, checkpoint: cp })).toEqual({ seq: 8, kind: 'rewritten' });
  });

  it('a checkpoint taken earlier still matches after more records', () => {
    const cp = parseCheckpoint(JSON.stringify(takeCheckpoint(db, new Date())), 'cp');
    write(3);
    expect(verifyAudit(db, { sealer, checkpoint: cp })).toMatchObject({ intact: true, checkpoint: { seq: 10, matched: true } });
  });

  it('a checkpoint whose seal is not this ledger\'s is bad data', () => {
    const doc = takeCheckpoint(db, new Date());
    const cp = parseCheckpoint(JSON.stringify({ ...doc, seal: 'ab'.repeat(32) }), 'cp');
    expect(() => verifyAudit(db, { sealer, checkpoint: cp })).toThrow(KmsError);
  });

  it('seals from another key are bad seals', () => {
    expect(verdict({ sealer: softSealer() })).toEqual({ seq: 1, kind: 'bad-seal' });
  });
});

describe('checkpoint files', () => {
  const good = { format: 'kmsctl-audit-checkpoint', version: 1, seq: 3, hash: 'ab'.repeat(32), seal: null };
  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['wrong format', JSON.stringify({ ...good, format: 'x' })],
    ['a newer version', JSON.stringify({ ...good, version: 2 })],
    ['a negative seq', JSON.stringify({ ...good, seq: -1 })],
    ['a fractional seq', JSON.stringify({ ...good, seq: 1.5 })],
    ['a short hash', JSON.stringify({ ...good, hash: 'abcd' })],
    ['an upper-case hash', JSON.stringify({ ...good, hash: 'AB'.repeat(32) })],
    ['no seal field', JSON.stringify({ ...good, seal: undefined })],
    ['seq 0 without the genesis hash', JSON.stringify({ ...good, seq: 0 })],
  ])('%s is bad data (65)', (_n, text) => {
    try {
      parseCheckpoint(text, 'cp.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KmsError);
      expect((e as KmsError).exitCode).toBe(65);
    }
  });

  it('a good one parses', () => {
    expect(parseCheckpoint(JSON.stringify(good), 'cp.json')).toMatchObject({ seq: 3, seal: null });
  });
});
