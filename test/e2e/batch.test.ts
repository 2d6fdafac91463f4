// Batch mode through the built binary on a real SoftHSM token: JSON Lines in on stdin, one result line
// out per input line, in one process. 10,000 wraps and their unwraps round-trip; bad lines in the middle
// get an error line with their number while the others succeed (exit 1 at the end); datakey --count and
// sign --batch give keys and signatures that an independent check accepts; every item has its own audit
// record; no progress bar when piped, one at a terminal for a run over a second.

import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule, type RunResult } from '../helpers/cli.js';
import { flipBit, kj, ledgerQuery, ledgerRows, ok, parseBlob, toText } from '../helpers/e2e.js';
import { ptyKms } from '../helpers/pty.js';

const N = 10_000;

let home: string;
let work: string;
let wrapKeyId: string;
const plaintexts: Buffer[] = [];
const contexts: Array<Record<string, string>> = [];
let wrapped: RunResult;
let blobs: string[];
/** The audit sequence number and use count of the wrap key before the big wrap. */
let beforeWrap: { seq: number; uses: number };

const jsonl = (rows: unknown[]) => `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;
const lines = (r: RunResult) => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 1000)}\nstderr: ${r.stderr.slice(0, 1000)}`;

/** Audit records of batch items, by command, read from ledger.db itself. */
function batchRecords(command: string, sinceSeq = 0): Array<{ seq: number; outcome: string; error_code: string | null; line: number; key_id: string | null; version: number | null }> {
  return ledgerQuery(home, (db) =>
    db
      .prepare("SELECT seq, outcome, error_code, json_extract(details, '$.line') AS line, key_id, version FROM audit WHERE command = ? AND json_extract(details, '$.batch') = 1 AND seq > ? ORDER BY seq")
      .all(command, sinceSeq) as Array<{ seq: number; outcome: string; error_code: string | null; line: number; key_id: string | null; version: number | null }>,
  );
}

const lastSeq = () => ledgerQuery(home, (db) => (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM audit').get() as { n: number }).n);
const useCount = (keyId: string) => ledgerRows(home).versions.filter((v) => v.key_id === keyId).reduce((n, v) => n + v.use_count, 0);

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  wrapKeyId = ok(kj(['create', 'bulk', '--spec', 'aes-256'], { home })).key.id;
  ok(kj(['create', 'signer', '--spec', 'ec-p256'], { home }));
  ok(kj(['create', 'edsigner', '--spec', 'ed25519'], { home }));
  for (let i = 0; i < N; i++) {
    plaintexts.push(randomBytes(1 + (i % 64)));
    contexts.push(i % 3 === 0 ? {} : { tenant: `t${i % 17}`, n: String(i) });
  }
  beforeWrap = { seq: lastSeq(), uses: useCount(wrapKeyId) };
  wrapped = kms(['wrap', 'bulk', '--batch'], { home, input: jsonl(plaintexts.map((p, i) => ({ plaintext: p.toString('base64'), context: contexts[i] }))) });
  blobs = lines(wrapped).map((l) => l.blob);
});

afterAll(() => {
  if (home) removeDir(home);
});

describe(`${N} wraps then unwraps`, () => {
  it('wrap --batch: one ok line per input line, in order, with the line number; stderr only the summary', () => {
    expect(wrapped.code, show(wrapped)).toBe(0);
    const out = lines(wrapped);
    expect(out).toHaveLength(N);
    out.forEach((l, i) => {
      expect(l.line).toBe(i + 1);
      expect(l.ok).toBe(true);
      expect(l.keyId).toBe(wrapKeyId);
      expect(l.version).toBe(1);
    });
    // Piped: no progress bar, no carriage returns, just the summary line.
    expect(wrapped.stderr).toBe(`wrap batch: ${N} ok, 0 failed\n`);
    // Every blob is a real one for this key, with its own IV.
    const ivs = new Set(blobs.map((b) => parseBlob(b).iv.toString('hex')));
    expect(ivs.size).toBe(N);
    expect(parseBlob(blobs[N - 1]).keyId).toBe(wrapKeyId);
  });

  it('every wrapped item has its own audit record and use count', () => {
    const recs = batchRecords('wrap', beforeWrap.seq);
    expect(recs).toHaveLength(N);
    expect(recs.every((r) => r.outcome === 'success' && r.key_id === wrapKeyId && r.version === 1)).toBe(true);
    expect(recs.map((r) => r.line)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(useCount(wrapKeyId) - beforeWrap.uses).toBe(N);
  });

  it('unwrap --batch gives back every plaintext, byte for byte', () => {
    const seq = lastSeq();
    const r = kms(['unwrap', '--batch'], { home, input: jsonl(blobs.map((b, i) => ({ blob: b, context: contexts[i] }))) });
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toBe(`unwrap batch: ${N} ok, 0 failed\n`);
    const out = lines(r);
    expect(out).toHaveLength(N);
    let same = 0;
    out.forEach((l, i) => {
      expect(l.line).toBe(i + 1);
      expect(l.ok).toBe(true);
      if (Buffer.from(l.plaintext, 'base64').equals(plaintexts[i])) same++;
    });
    expect(same).toBe(N);
    const recs = batchRecords('unwrap', seq);
    expect(recs).toHaveLength(N);
    expect(recs.every((x) => x.outcome === 'success' && x.key_id === wrapKeyId)).toBe(true);
  });
});

describe('bad lines in the middle', () => {
  it('unwrap: each bad line gets an error line with its number, the others succeed, exit 1, all audited', () => {
    const good = (i: number) => ({ blob: blobs[i], context: contexts[i] });
    const damaged = toText(flipBit(parseBlob(blobs[5]).bytes, parseBlob(blobs[5]).at.tag, 0));
    const input: unknown[] = [
      good(0), good(1), good(2),
      '{"blob": "kmsctl:v1:AAAA", not json',         // 4: not JSON
      { context: contexts[4] },                        // 5: no blob
      { blob: damaged, context: contexts[5] },         // 6: a damaged blob
      { blob: blobs[7], context: { tenant: 'other' } }, // 7: wrong context
      '[1, 2, 3]',                                     // 8: JSON, not an object
      { blob: 42 },                                    // 9: blob not a string
      good(9), good(10),
      '',                                              // 12: blank, skipped
      good(11),
    ];
    const seq = lastSeq();
    const r = kms(['unwrap', '--batch'], { home, input: jsonl(input) });
    expect(r.code, show(r)).toBe(1);
    const out = lines(r);
    expect(out.map((l) => l.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]);
    const byLine = new Map(out.map((l) => [l.line, l]));
    for (const [n, i] of [[1, 0], [2, 1], [3, 2], [10, 9], [11, 10], [13, 11]]) {
      expect(byLine.get(n).ok, `line ${n}`).toBe(true);
      expect(Buffer.from(byLine.get(n).plaintext, 'base64').equals(plaintexts[i])).toBe(true);
    }
    const expected: Record<number, number> = { 4: 65, 5: 64, 6: 65, 7: 65, 8: 65, 9: 64 };
    for (const [n, exitCode] of Object.entries(expected)) {
      const l = byLine.get(Number(n));
      expect(l.ok, `line ${n}`).toBe(false);
      expect(l.plaintext).toBeUndefined();
      expect(typeof l.error.code).toBe('string');
      expect(l.error.message.length).toBeGreaterThan(0);
      expect(l.error.exitCode, `line ${n}: ${l.error.message}`).toBe(exitCode);
    }
    expect(byLine.get(5).error.message).toContain('blob');
    expect(byLine.get(7).error.reason).toBe('context-mismatch');
    expect(r.stderr).toBe('unwrap batch: 6 ok, 6 failed\n');
    const recs = batchRecords('unwrap', seq);
    expect(recs.map((x) => [x.line, x.outcome])).toEqual(out.map((l) => [l.line, l.ok ? 'success' : 'failure']));
    expect(recs.filter((x) => x.outcome === 'failure').every((x) => typeof x.error_code === 'string' && x.error_code.length > 0)).toBe(true);
  });

  it('wrap: a line without plaintext or with bad base64 is an error line, the rest are wrapped', () => {
    const r = kms(['wrap', 'bulk', '--batch'], {
      home,
      input: jsonl([{ plaintext: 'AAAA' }, { text: 'x' }, { plaintext: 'not base64!' }, 'garbage', { plaintext: 'AQID', context: { a: 1 } }, { plaintext: 'AQID', id: 'mine' }]),
    });
    expect(r.code, show(r)).toBe(1);
    const out = lines(r);
    expect(out.map((l) => [l.line, l.ok])).toEqual([[1, true], [2, false], [3, false], [4, false], [5, false], [6, true]]);
    expect(out[5].id).toBe('mine');
    expect(out[1].error.message).toContain('plaintext');
    expect(r.stderr).toBe('wrap batch: 2 ok, 4 failed\n');
  });
});

describe('datakey --count', () => {
  it('makes N distinct data keys whose blobs unwrap to their plaintexts; each one audited', () => {
    const n = 500;
    const seq = lastSeq();
    const r = kms(['datakey', 'bulk', '--count', String(n), '--bytes', '32', '--context', 'app=batch'], { home });
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toBe(`datakey batch: ${n} ok, 0 failed\n`);
    const out = lines(r);
    expect(out).toHaveLength(n);
    expect(out.map((l) => l.line)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Set(out.map((l) => l.plaintext)).size).toBe(n);
    expect(out.every((l) => Buffer.from(l.plaintext, 'base64').length === 32)).toBe(true);
    const back = kms(['unwrap', '--batch'], { home, input: jsonl(out.map((l) => ({ blob: l.blob, context: { app: 'batch' } }))) });
    expect(back.code, show(back)).toBe(0);
    expect(lines(back).map((l) => l.plaintext)).toEqual(out.map((l) => l.plaintext));
    const recs = batchRecords('datakey', seq);
    expect(recs).toHaveLength(n);
    expect(recs.every((x) => x.outcome === 'success')).toBe(true);
  });

  it('a bad --count is a usage error before anything is made', () => {
    const seq = lastSeq();
    const r = kms(['datakey', 'bulk', '--count', '0', '--json'], { home });
    expect(r.code).toBe(64);
    expect(r.json.error.message).toContain('--count');
    expect(batchRecords('datakey', seq)).toHaveLength(0);
  });
});

describe('sign --batch', () => {
  for (const [alias, digest] of [['signer', 'sha256'], ['edsigner', null]] as const) {
    it(`${alias}: every signature verifies with node:crypto, a sample with kmsctl verify; bad lines reported`, () => {
      const msgs = Array.from({ length: 300 }, (_, i) => randomBytes(i + 1));
      const seq = lastSeq();
      const input: unknown[] = msgs.map((m) => ({ data: m.toString('base64') }));
      input.splice(150, 0, { blob: 'x' }, '{{');
      const r = kms(['sign', alias, '--batch'], { home, input: jsonl(input) });
      expect(r.code, show(r)).toBe(1);
      const out = lines(r);
      expect(out).toHaveLength(302);
      expect(out[150].ok).toBe(false);
      expect(out[150].line).toBe(151);
      expect(out[151].ok).toBe(false);
      expect(out[151].line).toBe(152);
      const sigs = out.filter((l) => l.ok);
      expect(sigs).toHaveLength(300);
      const pem = kms(['public-key', alias], { home }).stdout;
      const key = createPublicKey(pem);
      sigs.forEach((l, i) => {
        expect(nodeVerify(digest, msgs[i], key, Buffer.from(l.signature, 'base64')), `signature ${i}`).toBe(true);
      });
      for (const i of [0, 149, 299]) {
        const m = join(work, `${alias}-${i}.msg`);
        const s = join(work, `${alias}-${i}.sig`);
        writeFileSync(m, msgs[i]);
        writeFileSync(s, sigs[i].signature);
        ok(kj(['verify', alias, '--in', m, '--signature', s], { home }));
      }
      expect(batchRecords('sign', seq).map((x) => x.outcome)).toEqual(out.map((l) => (l.ok ? 'success' : 'failure')));
      expect(r.stderr).toBe('sign batch: 300 ok, 2 failed\n');
    });
  }

  it('a wrapping key cannot sign: the batch is refused before any line', () => {
    const r = kms(['sign', 'bulk', '--batch', '--json'], { home, input: jsonl([{ data: 'AAAA' }]) });
    expect(r.code).toBe(64);
    expect(r.json.ok).toBe(false);
  });
});

describe('progress on stderr', () => {
  it('none for a short run at a terminal: only the summary', () => {
    const input = join(work, 'short.jsonl');
    writeFileSync(input, jsonl(plaintexts.slice(0, 50).map((p) => ({ plaintext: p.toString('base64') }))));
    const r = ptyKms(['wrap', 'bulk', '--batch'], { home, stdin: input, stdout: join(work, 'short.out') });
    expect(r.code).toBe(0);
    expect(r.text).toBe('wrap batch: 50 ok, 0 failed\n');
    expect(readFileSync(join(work, 'short.out'), 'utf8').trim().split('\n')).toHaveLength(50);
  });

  it('a bar at a terminal for a run over a second, then the summary; stdout has the results only', () => {
    // The lines come through a FIFO with a pause in the middle, so the run lasts over a second on any machine.
    const n = 2000;
    const input = join(work, 'long.jsonl');
    writeFileSync(input, jsonl(blobs.slice(0, n).map((b, i) => ({ blob: b, context: contexts[i] }))));
    const fifo = join(work, 'long.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', '{ head -n 100 "$1"; sleep 1.5; tail -n +101 "$1"; } > "$2"', 'sh', input, fifo], { stdio: 'ignore' });
    const out = join(work, 'long.out');
    const r = ptyKms(['unwrap', '--batch'], { home, stdin: fifo, stdout: out });
    writer.kill();
    expect(r.code, r.text).toBe(0);
    const results = readFileSync(out, 'utf8');
    expect(results).not.toContain('\r');
    expect(results.trim().split('\n')).toHaveLength(n);
    // The bar redraws in place with carriage returns, and the summary comes on its own line at the end.
    expect(r.output).toMatch(/\r\d+ items/);
    expect(r.text.trim().split('\n').pop()).toBe(`unwrap batch: ${n} ok, 0 failed`);
  });

  it('batch mode wants its lines piped in: a terminal on stdin is a usage error', () => {
    const r = ptyKms(['wrap', 'bulk', '--batch'], { home, timeout: 20 });
    expect(r.code).toBe(64);
    expect(r.text).toContain('stdin');
  });
});
