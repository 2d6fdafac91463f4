// What kmsctl reads, through the built binary on a real SoftHSM token: every input has a cap fitted to
// what it is and reading stops there, also from streams that never end (/dev/zero, /dev/urandom,
// /dev/stdin); a regular file over the cap is refused from its size; a missing or unreadable input file
// is exit 66 (EX_NOINPUT) naming the path; unwrap will not pour raw plaintext onto a terminal.

import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, initHome, kms, removeDir, requireBuilt, softHsmModule, type RunResult } from '../helpers/cli.js';
import { fails, failsPlain, kj, ok } from '../helpers/e2e.js';
import { ptyKms } from '../helpers/pty.js';

let home: string;
let work: string;
let msgFile: string;
let blobFile: string;
let sigFile: string;
let macFile: string;
const dek = Buffer.from('an-ascii-data-key-0123456789abcd');

const p = (name: string) => join(work, name);

/** Runs kmsctl with stdin taken from a file or device (/dev/zero), as `kmsctl ... < PATH` does, with a time limit. */
function kmsFrom(stdin: string, args: string[], timeoutMs = 60_000): RunResult & { ms: number } {
  requireBuilt();
  const fd = openSync(stdin, 'r');
  const started = Date.now();
  try {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KMSCTL_HOME: home, CI: '1', NO_COLOR: '1', LANG: 'C.UTF-8' },
      cwd: home,
      stdio: [fd, 'pipe', 'pipe'],
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    const stdout = (r.stdout as Buffer).toString('utf8');
    let json: any;
    try {
      json = JSON.parse(stdout);
    } catch {
      json = undefined;
    }
    return { code: r.status ?? -1, stdout, stdoutBytes: r.stdout as Buffer, stderr: (r.stderr as Buffer).toString('utf8'), json, ms: Date.now() - started };
  } finally {
    closeSync(fd);
  }
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  for (const [alias, spec] of [['wk', 'aes-256'], ['sk', 'ec-p256'], ['mk', 'hmac-sha256']]) ok(kj(['create', alias, '--spec', spec], { home }));
  msgFile = p('msg.txt');
  writeFileSync(msgFile, 'a message to sign\n');
  writeFileSync(p('dek.bin'), dek);
  blobFile = p('dek.wrapped');
  expect(kms(['wrap', 'wk', '--in', p('dek.bin'), '--out', blobFile], { home }).code).toBe(0);
  sigFile = p('msg.sig');
  expect(kms(['sign', 'sk', '--in', msgFile, '--out', sigFile], { home }).code).toBe(0);
  macFile = p('msg.mac');
  expect(kms(['mac', 'mk', '--in', msgFile, '--out', macFile], { home }).code).toBe(0);
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('streams that never end are read up to the cap only', () => {
  const cases: Array<[string, string, string[], number, string[]]> = [
    ['wrap KEY < /dev/zero', '/dev/zero', ['wrap', 'wk'], 64, ['a data key must be 1 to 4096 bytes', 'over 4096 bytes']],
    ['wrap KEY --in /dev/urandom', '/dev/null', ['wrap', 'wk', '--in', '/dev/urandom'], 64, ['a data key must be 1 to 4096 bytes', '/dev/urandom is over 4096 bytes']],
    ['unwrap < /dev/zero', '/dev/zero', ['unwrap'], 65, ['over 1 MiB (1048576 bytes): not a kmsctl blob']],
    ['rewrap --in /dev/zero', '/dev/null', ['rewrap', '--in', '/dev/zero'], 65, ['/dev/zero is over 1 MiB', 'not a kmsctl blob']],
    ['verify --signature /dev/stdin < /dev/zero', '/dev/zero', ['verify', 'sk', '--in', '__msg__', '--signature', '/dev/stdin'], 65, ['/dev/stdin is over 1 MiB', 'not a signature']],
    ['mac-verify --mac /dev/zero', '/dev/null', ['mac-verify', 'mk', '--in', '__msg__', '--mac', '/dev/zero'], 65, ['/dev/zero is over 1 MiB', 'not a MAC']],
    ['audit verify --checkpoint /dev/zero', '/dev/null', ['audit', 'verify', '--checkpoint', '/dev/zero'], 65, ['/dev/zero is over 1 MiB', 'not a kmsctl checkpoint']],
  ];
  it.each(cases)('%s: one line, quickly', (_name, stdin, rawArgs, exitCode, says) => {
    const args = rawArgs.map((a) => (a === '__msg__' ? msgFile : a));
    const plain = kmsFrom(stdin, args);
    const line = failsPlain(plain, exitCode);
    for (const w of says) expect(line).toContain(w);
    expect(plain.ms, 'the read stopped at the cap').toBeLessThan(15_000);
    const json = kmsFrom(stdin, [...args, '--json']);
    const e = fails(json, exitCode);
    expect(e.reason).toBe(exitCode === 64 ? 'bad-plaintext-size' : 'input-too-large');
  });

  it('sign < /dev/zero stops at 1 GiB: exit 64 naming the cap, not a read of the whole stream', () => {
    const r = kmsFrom('/dev/zero', ['sign', 'sk', '--json'], 120_000);
    const e = fails(r, 64, 'usage');
    expect(e.message).toContain('over 1 GiB (1073741824 bytes)');
    expect(e.reason).toBe('input-too-large');
  });
});

describe('a regular file over the cap is refused from its size, without being read', () => {
  it('a 200 MB file as a wrap plaintext: exit 64 at once', () => {
    const big = p('big.bin');
    writeFileSync(big, '');
    truncateSync(big, 200 * 1024 * 1024);
    const r = kmsFrom('/dev/null', ['wrap', 'wk', '--in', big]);
    expect(failsPlain(r, 64)).toContain(`a data key must be 1 to 4096 bytes; ${big} is over 4096 bytes`);
    expect(r.ms).toBeLessThan(5_000);
  });

  it('a message of 1 GiB and one byte for sign, verify and mac: exit 64 at once', () => {
    const huge = p('huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, 1024 * 1024 * 1024 + 1);
    for (const args of [['sign', 'sk', '--in', huge], ['verify', 'sk', '--in', huge, '--signature', sigFile], ['mac', 'mk', '--in', huge]]) {
      const r = kmsFrom('/dev/null', [...args, '--json']);
      expect(fails(r, 64).message, args.join(' ')).toContain(`${huge} is over 1 GiB`);
      expect(r.ms).toBeLessThan(5_000);
    }
  });

  it('a 2 MB file given as a blob: exit 65', () => {
    const f = p('two-mb.txt');
    writeFileSync(f, Buffer.alloc(2 * 1024 * 1024, 'A'));
    expect(failsPlain(kmsFrom('/dev/null', ['unwrap', '--in', f]), 65)).toContain('not a kmsctl blob');
  });
});

describe('inputs within their caps work from files, pipes, FIFOs and /dev/stdin', () => {
  it('a 4096-byte data key wraps; 4097 bytes are refused with exit 64', () => {
    const max = randomBytes(4096);
    const w = kms(['wrap', 'wk', '--json'], { home, input: max });
    const blob = ok(w).blob as string;
    const back = ok(kms(['unwrap', '--json'], { home, input: blob }));
    expect(Buffer.from(back.plaintext, 'base64').equals(max)).toBe(true);
    const over = kms(['wrap', 'wk', '--json'], { home, input: randomBytes(4097) });
    expect(fails(over, 64).message).toContain('a data key must be 1 to 4096 bytes');
  });

  it('a 5 MB message signs from a pipe and verifies with the signature on /dev/stdin', () => {
    const m = p('five-mb.bin');
    writeFileSync(m, randomBytes(5 * 1024 * 1024));
    const s = kms(['sign', 'sk'], { home, input: readFileSync(m) });
    expect(s.code, s.stderr).toBe(0);
    ok(kms(['verify', 'sk', '--in', m, '--signature', '/dev/stdin', '--json'], { home, input: s.stdout }));
  });

  it('a blob through a FIFO unwraps', async () => {
    const fifo = p('blob.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', blobFile, fifo], { stdio: 'ignore' });
    const done = new Promise((res) => writer.on('close', res));
    const r = kms(['unwrap', '--in', fifo, '--json'], { home });
    await done;
    expect(Buffer.from(ok(r).plaintext, 'base64').equals(dek)).toBe(true);
  });
});

describe('a missing or unreadable input file is exit 66 (no input), naming the file', () => {
  const missing = () => p('does-not-exist');
  const cases: Array<[string, () => string[]]> = [
    ['wrap --in', () => ['wrap', 'wk', '--in', missing()]],
    ['unwrap --in', () => ['unwrap', '--in', missing()]],
    ['rewrap --in', () => ['rewrap', '--in', missing()]],
    ['sign --in', () => ['sign', 'sk', '--in', missing()]],
    ['verify --in', () => ['verify', 'sk', '--in', missing(), '--signature', sigFile]],
    ['verify --signature', () => ['verify', 'sk', '--in', msgFile, '--signature', missing()]],
    ['mac --in', () => ['mac', 'mk', '--in', missing()]],
    ['mac-verify --mac', () => ['mac-verify', 'mk', '--in', msgFile, '--mac', missing()]],
    ['audit verify --checkpoint', () => ['audit', 'verify', '--checkpoint', missing()]],
  ];
  it.each(cases)('%s', (_name, args) => {
    const line = failsPlain(kms(args(), { home }), 66);
    expect(line).toContain(`no such file ${missing()}`);
    const e = fails(kj(args(), { home }), 66, 'not-found');
    expect(e.reason).toBe('input-not-found');
    expect(e.message).toContain(missing());
  });

  it('/nonexistent for unwrap is 66 like policy validate /nonexistent', () => {
    expect(fails(kj(['unwrap', '--in', '/nonexistent'], { home }), 66).message).toContain('/nonexistent');
    expect(kj(['policy', 'validate', '/nonexistent'], { home }).code).toBe(66);
  });

  it('a directory given as an input file is 66, naming it', () => {
    const e = fails(kj(['unwrap', '--in', work], { home }), 66, 'not-found');
    expect(e.message).toContain(`${work} is a directory`);
    expect(e.reason).toBe('input-not-readable');
  });
});

describe('unwrap and a terminal', () => {
  it('refuses to write the raw plaintext onto a terminal: exit 64, one line, no key bytes shown', () => {
    const r = ptyKms(['unwrap', '--in', blobFile], { home, timeout: 30 });
    expect(r.code, r.text).toBe(64);
    expect(r.text).toBe('kmsctl: the plaintext is binary: pass --out FILE (or --out - to write it here anyway)\n');
    expect(r.output).not.toContain(dek.toString('latin1'));
  });

  it('--out - writes it to the terminal anyway', () => {
    const r = ptyKms(['unwrap', '--in', blobFile, '--out', '-'], { home, timeout: 30 });
    expect(r.code, r.text).toBe(0);
    expect(r.text).toContain(dek.toString('latin1'));
  });

  it('--json at a terminal gives the plaintext as base64', () => {
    const r = ptyKms(['unwrap', '--in', blobFile, '--json'], { home, timeout: 30 });
    expect(r.code, r.text).toBe(0);
    expect(JSON.parse(r.text).plaintext).toBe(dek.toString('base64'));
  });

  it('a pipe or a file on stdout gets the raw bytes as before', () => {
    const piped = kms(['unwrap', '--in', blobFile], { home });
    expect(piped.code).toBe(0);
    expect(piped.stdoutBytes.equals(dek)).toBe(true);
    const out = p('plain-from-pty.bin');
    const r = ptyKms(['unwrap', '--in', blobFile], { home, stdout: out, timeout: 30 });
    expect(r.code, r.text).toBe(0);
    expect(readFileSync(out).equals(dek)).toBe(true);
  });
});
