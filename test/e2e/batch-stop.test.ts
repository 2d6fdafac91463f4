// How a batch stops, through the built binary on a real SoftHSM token: an input line over 16 MiB (or an
// input with no newline at all, /dev/zero) is a framing error, exit 65; a closed stdout (`| head -n 1`)
// stops it between two items, exit 1, with far fewer items made than asked for; SIGTERM stops it like
// Ctrl-C, exit 143. Each time everything done before is printed (where stdout is open) and audited, and
// nothing after it is started. Also: CRLF lines, blank lines skipped, a line just under the limit.

import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, initHome, kms, removeDir, requireBuilt, softHsmModule, type RunResult } from '../helpers/cli.js';
import { kj, ledgerQuery, ok } from '../helpers/e2e.js';

const MAX_LINE = 16 * 1024 * 1024;

let home: string;
let work: string;

const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KMSCTL_HOME: home, CI: '1', NO_COLOR: '1', LANG: 'C.UTF-8' });
const show = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 1000)}\nstderr: ${r.stderr.slice(0, 1000)}`;
const resultLines = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));

const lastSeq = () => ledgerQuery(home, (db) => (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM audit').get() as { n: number }).n);
/** Audit records of batch items written after seq, for one command. */
const batchAudited = (command: string, sinceSeq: number) =>
  ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = ? AND json_extract(details, '$.batch') = 1 AND seq > ?").get(command, sinceSeq) as { n: number }).n);

/** The one stderr line of a stopped batch: no stack trace, no RangeError. */
function oneLine(stderr: string): string {
  expect(stderr.endsWith('\n'), stderr).toBe(true);
  const lines = stderr.slice(0, -1).split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toContain('    at ');
  expect(stderr).not.toMatch(/RangeError|TypeError|\bError:/);
  return lines[0];
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  ok(kj(['create', 'bulk', '--spec', 'aes-256'], { home }));
  ok(kj(['create', 'signer', '--spec', 'ec-p256'], { home }));
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('batch input lines have a maximum length of 16 MiB', () => {
  it('wrap --batch < /dev/zero: exit 65 at once naming line 1 and the limit, memory bounded, no stack trace', () => {
    requireBuilt();
    const fd = openSync('/dev/zero', 'r');
    const started = Date.now();
    let r;
    try {
      // A 128 MB JavaScript heap: a line kept as one growing string (readline's way) runs out of it long
      // before the end; the line splitter holds at most 16 MiB, as Buffers.
      r = spawnSync(process.execPath, ['--max-old-space-size=128', BIN, 'wrap', 'bulk', '--batch'], { env: env(), cwd: home, stdio: [fd, 'pipe', 'pipe'], timeout: 60_000, encoding: 'utf8' });
    } finally {
      closeSync(fd);
    }
    expect(r.error).toBeUndefined();
    expect(r.status, show({ code: r.status, stdout: r.stdout, stderr: r.stderr })).toBe(65);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stdout).toBe('');
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^kmsctl: wrap batch: line 1 is over 16777216 bytes \(16 MiB\)/);
  });

  it('a line over the limit in the middle stops the batch there: the lines before it printed and audited, none after', () => {
    const good = JSON.stringify({ plaintext: 'AAAA' });
    const long = JSON.stringify({ plaintext: 'A'.repeat(MAX_LINE) });
    const seq = lastSeq();
    const r = kms(['wrap', 'bulk', '--batch'], { home, input: `${good}\n${good}\n${long}\n${good}\n` });
    expect(r.code, show(r)).toBe(65);
    expect(resultLines(r.stdout).map((l) => [l.line, l.ok])).toEqual([[1, true], [2, true]]);
    const line = oneLine(r.stderr);
    expect(line).toContain('line 3 is over 16777216 bytes (16 MiB)');
    expect(line).toContain('2 ok, 0 failed, each printed and audited');
    expect(batchAudited('wrap', seq)).toBe(2);
  });

  it('with --json the error is one JSON document after the results, reason batch-line-too-long', () => {
    const r = kms(['wrap', 'bulk', '--batch', '--json'], { home, input: `{"plaintext":"AAAA"}\n${'x'.repeat(MAX_LINE + 1)}` });
    expect(r.code).toBe(65);
    const docs = resultLines(r.stdout);
    expect(docs).toHaveLength(2);
    expect(docs[0].ok).toBe(true);
    expect(docs[1]).toEqual({ ok: false, error: expect.objectContaining({ code: 'bad-data', exitCode: 65, reason: 'batch-line-too-long' }) });
    expect(docs[1].error.message).toContain('line 2');
  });

  it('a sign line just under the limit (a 12 MB message) is signed, and the signature verifies', () => {
    const msg = randomBytes(12 * 1024 * 1024 - 1024);
    const line = JSON.stringify({ data: msg.toString('base64') });
    expect(line.length).toBeLessThan(MAX_LINE);
    expect(line.length).toBeGreaterThan(MAX_LINE - 4096);
    const r = kms(['sign', 'signer', '--batch'], { home, input: `${line}\n` });
    expect(r.code, show(r)).toBe(0);
    const [out] = resultLines(r.stdout);
    const key = createPublicKey(kms(['public-key', 'signer'], { home }).stdout);
    expect(nodeVerify('sha256', msg, key, Buffer.from(out.signature, 'base64'))).toBe(true);
  });

  it('CRLF line ends are taken, blank lines are skipped but counted, and a last line needs no newline', () => {
    const l = (id: number) => JSON.stringify({ plaintext: 'AQID', id });
    const r = kms(['wrap', 'bulk', '--batch'], { home, input: `${l(1)}\r\n\r\n\n${l(2)}\r\n   \n${l(3)}` });
    expect(r.code, show(r)).toBe(0);
    expect(resultLines(r.stdout).map((x) => [x.line, x.id, x.ok])).toEqual([[1, 1, true], [4, 2, true], [6, 3, true]]);
    expect(r.stderr).toBe('wrap batch: 3 ok, 0 failed\n');
  });
});

describe('a closed stdout stops the batch between two items', () => {
  /** `kmsctl ARGS [< input] | head -n 1` in sh; kmsctl's exit code and stderr are caught in files. */
  function pipeToHead(args: string[], input?: string): { code: number; head: string; stderr: string } {
    const rc = join(work, `rc-${Date.now()}`);
    const err = join(work, `err-${Date.now()}`);
    const script = '{ "$0" "$@" < "$KMS_IN" 2> "$KMS_ERR"; echo $? > "$KMS_RC"; } | head -n 1';
    const r = spawnSync('sh', ['-c', script, process.execPath, BIN, ...args], {
      env: { ...env(), KMS_IN: input ?? '/dev/null', KMS_ERR: err, KMS_RC: rc },
      cwd: home,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    return { code: Number(readFileSync(rc, 'utf8').trim()), head: r.stdout, stderr: readFileSync(err, 'utf8') };
  }

  it('wrap --batch < 50,000 lines | head -n 1: exit 1, one stderr line, far fewer than 50,000 wrapped, each one audited', () => {
    const n = 50_000;
    const input = join(work, 'fifty-k.jsonl');
    writeFileSync(input, `${Array.from({ length: n }, (_, i) => JSON.stringify({ plaintext: 'AAAAAAAAAAAAAAAAAAAAAA==', id: i })).join('\n')}\n`);
    const seq = lastSeq();
    const r = pipeToHead(['wrap', 'bulk', '--batch'], input);
    expect(r.code, r.stderr).toBe(1);
    const [first] = resultLines(r.head);
    expect(first).toMatchObject({ line: 1, ok: true, id: 0 });
    const m = /^kmsctl: stdout was closed after line (\d+): stopped; (\d+) done and audited$/.exec(oneLine(r.stderr));
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![2]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(n / 5);
    expect(batchAudited('wrap', seq)).toBe(done);
    // The audit command agrees with ledger.db.
    const fromCli = ok(kj(['audit', '--action', 'wrap', '--since-seq', String(seq), '--limit', '100000'], { home })).records.filter((x: { details?: { batch?: boolean } }) => x.details?.batch);
    expect(fromCli).toHaveLength(done);
  });

  it('datakey --count 100000 | head -n 1: exit 1, far fewer than 100,000 keys made, each one audited', () => {
    const n = 100_000;
    const seq = lastSeq();
    const r = pipeToHead(['datakey', 'bulk', '--count', String(n)]);
    expect(r.code, r.stderr).toBe(1);
    expect(resultLines(r.head)[0]).toMatchObject({ line: 1, ok: true });
    const m = /^kmsctl: stdout was closed after line (\d+): stopped; (\d+) done and audited$/.exec(oneLine(r.stderr));
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![2]);
    expect(done).toBeLessThan(n / 10);
    expect(batchAudited('datakey', seq)).toBe(done);
  });

  it('a reader that goes away from a command that is not a batch is still not a crash', () => {
    const r = pipeToHead(['list', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('SIGTERM stops a batch like Ctrl-C, with exit 143', () => {
  function startBatch(args: string[]) {
    requireBuilt();
    const child = spawn(process.execPath, [BIN, ...args], { env: env(), cwd: home, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    const waitFor = async (pred: () => boolean, ms = 30_000) => {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timed out\n${show({ code: null, stdout, stderr })}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { child, exited, waitFor, out: () => stdout, err: () => stderr };
  }

  it('while waiting for the next line: exit 143 at once, every line before it printed and audited, a summary line', async () => {
    const seq = lastSeq();
    const b = startBatch(['wrap', 'bulk', '--batch']);
    // 300 lines: the first 256 results are printed as a chunk, the other 44 when the batch stops.
    b.child.stdin.write(`${Array.from({ length: 300 }, () => '{"plaintext":"AAAA"}').join('\n')}\n`);
    await b.waitFor(() => b.out().split('\n').length > 256);
    b.child.kill('SIGTERM');
    const code = await b.exited;
    b.child.stdin.destroy();
    expect(code, show({ code, stdout: b.out(), stderr: b.err() })).toBe(143);
    expect(resultLines(b.out()).map((l) => l.line)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(oneLine(b.err())).toBe('kmsctl: wrap batch stopped by SIGTERM after line 300: 300 ok, 0 failed, each printed and audited; the lines after it were not started');
    expect(batchAudited('wrap', seq)).toBe(300);
  });

  it('in the middle of a long datakey --count run: exit 143 between two items, printed = audited', async () => {
    const seq = lastSeq();
    const b = startBatch(['datakey', 'bulk', '--count', '9999999']);
    await b.waitFor(() => b.out().length > 0);
    b.child.kill('SIGTERM');
    const code = await b.exited;
    expect(code, show({ code, stdout: b.out(), stderr: b.err() })).toBe(143);
    const printed = resultLines(b.out());
    expect(printed.length).toBeGreaterThan(0);
    expect(printed.length).toBeLessThan(9_999_999);
    expect(printed.every((p, i) => p.ok === true && p.line === i + 1)).toBe(true);
    expect(oneLine(b.err())).toBe(`kmsctl: datakey batch stopped by SIGTERM after line ${printed.length}: ${printed.length} ok, 0 failed, each printed and audited; the lines after it were not started`);
    expect(batchAudited('datakey', seq)).toBe(printed.length);
    // The trail is whole: nothing half-written.
    ok(kj(['audit', 'verify'], { home }));
  });
});
