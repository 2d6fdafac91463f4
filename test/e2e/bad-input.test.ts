// What kmsctl does with bad input, through the built binary on a real SoftHSM token: the exit code of
// SPEC section 7, one JSON document or one line on stderr (never a stack trace), no secret in any
// output or in ledger.db, and nothing left behind: the ledger and the token are as they were before.

import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule, type RunResult } from '../helpers/cli.js';
import {
  auditCount,
  fails,
  failsPlain,
  flipBit,
  kj,
  ledgerFileBytes,
  ledgerRows,
  ok,
  parseBlob,
  tokenSnapshot,
  toText,
  userPin,
  type BlobParts,
} from '../helpers/e2e.js';

let home: string;
let foreignHome: string;
let work: string;
let dek: Buffer;
let blobText: string;
let blob: BlobParts;
let ids: Record<string, string>;
let baseline: ReturnType<typeof snapshot>;

const CONTEXT = ['--context', 'tenant=acme', '--context', 'app=billing'];

function file(name: string, content: Buffer | string): string {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
}

/** What must not change when a command fails: keys and versions (CLI and ledger), use counts, intents, token objects. */
function snapshot(h: string) {
  const list = ok(kj(['list'], { home: h })).keys.map((k: Record<string, unknown>) => ({ id: k.id, alias: k.alias, state: k.state, primaryVersion: k.primaryVersion }));
  return { list, rows: ledgerRows(h), token: tokenSnapshot(h) };
}

function expectUnchanged(): void {
  expect(snapshot(home)).toEqual(baseline);
}

/** Runs args twice, for people and with --json, and checks both failure forms. */
function bothFail(args: string[], exitCode: number, code: string, env?: Record<string, string>): { json: ReturnType<typeof fails>; line: string; runs: RunResult[] } {
  const plain = kms(args, { home, env });
  const line = failsPlain(plain, exitCode);
  const j = kj(args, { home, env });
  const json = fails(j, exitCode, code);
  return { json, line, runs: [plain, j] };
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  foreignHome = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  const initial = tokenSnapshot(home).length;
  ids = {};
  for (const [alias, spec] of [['wrapkey', 'aes-256'], ['otherkey', 'aes-256'], ['signkey', 'ec-p256'], ['mackey', 'hmac-sha256']]) {
    ids[alias] = ok(kj(['create', alias, '--spec', spec], { home })).key.id;
  }
  ok(kj(['create', 'foreignkey', '--spec', 'aes-256'], { home: foreignHome }));
  dek = randomBytes(32);
  blobText = ok(kj(['wrap', 'wrapkey', '--in', file('dek', dek), ...CONTEXT], { home })).blob;
  blob = parseBlob(blobText);
  expect(blob.keyId).toBe(ids.wrapkey);
  // The good blob opens: every failure below comes from the damage, not from the set-up.
  expect(Buffer.from(ok(kj(['unwrap', '--in', file('good', blobText), ...CONTEXT], { home })).plaintext, 'base64').equals(dek)).toBe(true);
  baseline = snapshot(home);
  expect(baseline.list).toHaveLength(4);
  // Two secret keys, two objects of the key pair and the MAC key, beside whatever init put there.
  expect(baseline.token).toHaveLength(initial + 5);
});

afterAll(() => {
  if (home) removeDir(home);
  if (foreignHome) removeDir(foreignHome);
});

describe('damaged, foreign or mismatched blobs: exit 65, one line, nothing changed', () => {
  const text = (b: Buffer) => toText(b);
  const body = () => blobText.slice('kmsctl:v1:'.length);
  const mid = () => 'kmsctl:v1:'.length + (body().length >> 1);
  type Case = [string, () => { input: string | Buffer; context?: string[] }, string[] | null];
  const cases: Case[] = [
    // truncated
    ['text blob missing its last 4 characters', () => ({ input: blobText.slice(0, -4) }), ['truncated', 'base64-damaged']],
    ['blob one byte short', () => ({ input: text(blob.bytes.subarray(0, -1)) }), ['truncated']],
    ['blob cut inside the header', () => ({ input: text(blob.bytes.subarray(0, 30)) }), ['truncated']],
    ['blob of 5 bytes', () => ({ input: text(blob.bytes.subarray(0, 5)) }), ['too-short']],
    ['binary blob one byte short', () => ({ input: blob.bytes.subarray(0, -1) }), ['truncated']],
    ['binary blob with a newline appended', () => ({ input: Buffer.concat([blob.bytes, Buffer.from('\n')]) }), ['trailing-bytes']],
    // one bit flipped, field by field
    ['bit flip in the magic', () => ({ input: text(flipBit(blob.bytes, 0)) }), ['bad-magic']],
    ['bit flip in the format version', () => ({ input: text(flipBit(blob.bytes, 4, 1)) }), ['unsupported-version']],
    ['bit flip in the algorithm', () => ({ input: text(flipBit(blob.bytes, 5, 1)) }), ['unknown-algorithm']],
    ['bit flip in the key id length', () => ({ input: text(flipBit(blob.bytes, 6, 0)) }), null],
    ['bit flip in the key id', () => ({ input: text(flipBit(blob.bytes, blob.at.keyId + 5, 0)) }), ['foreign-blob', 'bad-key-id']],
    ['key version 1 -> 0', () => ({ input: text(flipBit(blob.bytes, blob.at.keyVersion + 3, 0)) }), ['bad-key-version']],
    ['key version 1 -> 3 (never existed)', () => ({ input: text(flipBit(blob.bytes, blob.at.keyVersion + 3, 1)) }), ['foreign-blob']],
    ['key version high bit', () => ({ input: text(flipBit(blob.bytes, blob.at.keyVersion, 7)) }), ['foreign-blob']],
    ['bit flip in the IV length', () => ({ input: text(flipBit(blob.bytes, blob.at.ivLength, 0)) }), ['bad-iv-length']],
    ['bit flip in the IV', () => ({ input: text(flipBit(blob.bytes, blob.at.iv + 6, 4)) }), ['auth-failed']],
    ['bit flip in the context fingerprint', () => ({ input: text(flipBit(blob.bytes, blob.at.fingerprint + 2, 2)) }), ['context-mismatch']],
    ['bit flip in the ciphertext length', () => ({ input: text(flipBit(blob.bytes, blob.at.n + 3, 0)) }), ['truncated', 'trailing-bytes', 'bad-ciphertext-length']],
    ['bit flip in the first ciphertext byte', () => ({ input: text(flipBit(blob.bytes, blob.at.ciphertext, 0)) }), ['auth-failed']],
    ['bit flip in the last ciphertext byte', () => ({ input: text(flipBit(blob.bytes, blob.at.tag - 1, 7)) }), ['auth-failed']],
    ['bit flip in the first tag byte', () => ({ input: text(flipBit(blob.bytes, blob.at.tag, 3)) }), ['auth-failed']],
    ['bit flip in the last tag byte', () => ({ input: text(flipBit(blob.bytes, blob.bytes.length - 1, 0)) }), ['auth-failed']],
    ['bit flip in the tag of a binary blob', () => ({ input: flipBit(blob.bytes, blob.bytes.length - 5, 6) }), ['auth-failed']],
    ['bit flip in the IV of a binary blob', () => ({ input: flipBit(blob.bytes, blob.at.iv, 0) }), ['auth-failed']],
    // base64 damage
    ["a '+' in the middle", () => ({ input: `${blobText.slice(0, mid())}+${blobText.slice(mid() + 1)}` }), ['base64-damaged']],
    ['a space in the middle', () => ({ input: `${blobText.slice(0, mid())} ${blobText.slice(mid())}` }), ['base64-damaged']],
    ['a line break in the middle', () => ({ input: `${blobText.slice(0, mid())}\n${blobText.slice(mid())}` }), ['base64-damaged']],
    ["'=' padding appended", () => ({ input: `${blobText}==` }), ['base64-damaged']],
    ['one character dropped in the middle', () => ({ input: blobText.slice(0, mid()) + blobText.slice(mid() + 1) }), null],
    ['a non-ASCII character in the middle', () => ({ input: `${blobText.slice(0, mid())}é${blobText.slice(mid() + 1)}` }), ['base64-damaged']],
    ['the kmsctl:v1: prefix cut off', () => ({ input: body() }), ['not-a-blob']],
    // a blob made for another key, or by another ledger
    ['key id swapped for another aes key of this ledger', () => {
      const b = Buffer.from(blob.bytes);
      expect(ids.otherkey).toHaveLength(blob.keyId.length);
      b.write(ids.otherkey, blob.at.keyId, 'ascii');
      return { input: text(b) };
    }, ['auth-failed']],
    ['a blob from another KMSCTL_HOME', () => ({ input: ok(kj(['wrap', 'foreignkey', '--in', file('dek', dek), ...CONTEXT], { home: foreignHome })).blob }), ['foreign-blob']],
    // the context
    ['no context', () => ({ input: blobText, context: [] }), ['context-mismatch']],
    ['one context entry missing', () => ({ input: blobText, context: ['--context', 'tenant=acme'] }), ['context-mismatch']],
    ['an extra context entry', () => ({ input: blobText, context: [...CONTEXT, '--context', 'env=prod'] }), ['context-mismatch']],
    ['a different context value', () => ({ input: blobText, context: ['--context', 'tenant=evil', '--context', 'app=billing'] }), ['context-mismatch']],
    ['a context key in another case', () => ({ input: blobText, context: ['--context', 'Tenant=acme', '--context', 'app=billing'] }), ['context-mismatch']],
    ['an empty value for a context key', () => ({ input: blobText, context: ['--context', 'tenant=', '--context', 'app=billing'] }), ['context-mismatch']],
    ['context dropped and the fingerprint forged to match none', () => {
      const b = Buffer.from(blob.bytes);
      createHash('sha256').update(Buffer.from([0, 0])).digest().copy(b, blob.at.fingerprint, 0, 8);
      return { input: text(b), context: [] };
    }, ['auth-failed']],
  ];

  it.each(cases)('unwrap: %s', (name, make, reasons) => {
    const c = make();
    const inPath = file(`case-${name.replace(/\W+/g, '-')}`, c.input);
    const { json, line } = bothFail(['unwrap', '--in', inPath, ...(c.context ?? CONTEXT)], 65, 'bad-data');
    if (reasons) expect(reasons).toContain(json.reason);
    expect(line).not.toContain(dek.toString('base64'));
    expect(line).not.toContain(dek.toString('hex'));
    expectUnchanged();
  });

  it.each([
    ['truncated', () => text(blob.bytes.subarray(0, -3)), 'truncated'],
    ['tag bit-flipped', () => text(flipBit(blob.bytes, blob.bytes.length - 1, 1)), 'auth-failed'],
    ['context-mismatched', () => blobText, 'context-mismatch'],
  ] as Array<[string, () => string, string]>)('rewrap of a %s blob writes nothing', (name, make, reason) => {
    const out = join(work, `rewrap-${name}.out`);
    const ctx = name === 'context-mismatched' ? ['--context', 'tenant=acme'] : CONTEXT;
    const { json } = bothFail(['rewrap', '--in', file(`rewrap-${name}`, make()), '--out', out, ...ctx], 65, 'bad-data');
    expect(json.reason).toBe(reason);
    expect(existsSync(out)).toBe(false);
    expectUnchanged();
  });

  it('empty input is refused as bad data', () => {
    expect(bothFail(['unwrap', '--in', file('empty', '')], 65, 'bad-data').json.reason).toBe('empty');
    expectUnchanged();
  });
});

describe('unknown key or version: exit 66', () => {
  it.each([
    ['wrap', () => ['wrap', 'nokey', '--in', file('dek', dek)]],
    ['datakey', () => ['datakey', 'nokey']],
    ['sign', () => ['sign', 'nokey', '--in', file('msg', 'hello')]],
    ['mac', () => ['mac', 'nokey', '--in', file('msg', 'hello')]],
    ['rotate', () => ['rotate', 'nokey']],
    ['show', () => ['show', 'nokey']],
    ['public-key', () => ['public-key', 'nokey']],
    ['an id that looks right but is not there', () => ['rotate', 'k_00000000000000000000']],
    ['public-key --version 9', () => ['public-key', 'signkey', '--version', '9']],
    ['verify --version 9', () => ['verify', 'signkey', '--in', file('msg', 'hello'), '--signature', file('sig', randomBytes(70)), '--version', '9']],
    ['mac-verify --version 9', () => ['mac-verify', 'mackey', '--in', file('msg', 'hello'), '--mac', file('mac', randomBytes(32)), '--version', '9']],
  ] as Array<[string, () => string[]]>)('%s', (_name, args) => {
    const { json } = bothFail(args(), 66, 'not-found');
    expect(['key-not-found', 'version-not-found']).toContain(json.reason);
    expectUnchanged();
  });
});

describe('wrong PIN: exit 77, and no PIN anywhere', () => {
  const wrongPin = `Wr0ng-${randomBytes(6).toString('hex')}`;
  const seen: RunResult[] = [];

  it.each([
    ['wrap', () => ['wrap', 'wrapkey', '--in', file('dek', dek)]],
    ['unwrap', () => ['unwrap', '--in', file('good', blobText), ...CONTEXT]],
    ['datakey', () => ['datakey', 'wrapkey']],
    ['rewrap', () => ['rewrap', '--in', file('good', blobText), ...CONTEXT]],
    ['sign', () => ['sign', 'signkey', '--in', file('msg', 'hello')]],
    ['mac', () => ['mac', 'mackey', '--in', file('msg', 'hello')]],
    ['create', () => ['create', 'never-made', '--spec', 'ec-p256']],
    ['rotate', () => ['rotate', 'wrapkey']],
  ] as Array<[string, () => string[]]>)('%s with KMSCTL_PIN set wrong', (_name, args) => {
    const { runs } = bothFail(args(), 77, 'denied', { KMSCTL_PIN: wrongPin });
    seen.push(...runs);
    expectUnchanged();
  });

  it('a wrong --pin-file is refused the same way', () => {
    const pinFile = file('pin.txt', `${wrongPin}\n`);
    const { runs } = bothFail(['wrap', 'wrapkey', '--in', file('dek', dek), '--pin-file', pinFile], 77, 'denied');
    seen.push(...runs);
    expectUnchanged();
  });

  it('neither the wrong PIN nor the real one appears on stdout, stderr or in ledger.db', () => {
    const realPin = userPin(home);
    expect(seen.length).toBe(2 * 9);
    for (const r of seen) {
      for (const pin of [wrongPin, realPin]) {
        expect(r.stdout).not.toContain(pin);
        expect(r.stderr).not.toContain(pin);
      }
    }
    const bytes = ledgerFileBytes(home);
    expect(bytes.length).toBeGreaterThan(4096);
    for (const pin of [wrongPin, realPin]) {
      expect(bytes.indexOf(Buffer.from(pin, 'utf8'))).toBe(-1);
      expect(bytes.indexOf(Buffer.from(pin, 'utf8').toString('base64'))).toBe(-1);
    }
  });

  it('a failed login is recorded in the audit trail as a failure (SPEC 6)', () => {
    const before = auditCount(home);
    fails(kj(['wrap', 'wrapkey', '--in', file('dek', dek)], { home, env: { KMSCTL_PIN: wrongPin } }), 77, 'denied');
    expect(auditCount(home)).toBe(before + 1);
    const last = ok(kj(['audit', '--limit', '1'], { home })).records[0];
    expect(last).toMatchObject({ command: 'wrap', outcome: 'failure' });
    expect(JSON.stringify(last)).not.toContain(wrongPin);
  });

  it('the right PIN still works afterwards (no lockout)', () => {
    ok(kj(['wrap', 'wrapkey', '--in', file('dek', dek)], { home }));
    baseline = snapshot(home);
  });
});

describe('usage errors: exit 64', () => {
  it.each([
    ['datakey --bytes 0', () => ['datakey', 'wrapkey', '--bytes', '0']],
    ['datakey --bytes 4097', () => ['datakey', 'wrapkey', '--bytes', '4097']],
    ['datakey --bytes abc', () => ['datakey', 'wrapkey', '--bytes', 'abc']],
    ['wrap of 0 bytes', () => ['wrap', 'wrapkey', '--in', file('zero', Buffer.alloc(0))]],
    ['wrap of 4097 bytes', () => ['wrap', 'wrapkey', '--in', file('big', randomBytes(4097))]],
  ] as Array<[string, () => string[]]>)('%s', (_name, args) => {
    bothFail(args(), 64, 'usage');
    expectUnchanged();
  });

  it.each(['aes-128', 'rsa-1024', 'AES-256', 'ec-p521', ''])('create with bad spec %j', (spec) => {
    const { json } = bothFail(['create', 'bad-spec-key', '--spec', spec], 64, 'usage');
    expect(json.message).toContain('aes-256');
    expectUnchanged();
  });

  it.each([
    ['an option of the command, misspelt', ['wrap', 'wrapkey', '--contxt', 'a=b'], '--context'],
    ['--spec misspelt', ['create', 'x1', '--spce', 'aes-256'], '--spec'],
    ['a global option misspelt', ['list', '--hom', '/tmp'], '--home'],
    ['a command misspelt', ['wrp', 'wrapkey'], 'wrap'],
  ] as Array<[string, string[], string]>)('unknown option: %s, with a suggestion', (_name, args, suggestion) => {
    const { json, line } = bothFail(args, 64, 'usage');
    expect(json.message).toContain(`Did you mean ${suggestion}?`);
    expect(line).toContain(`Did you mean ${suggestion}?`);
    expectUnchanged();
  });
});

describe('an alias that exists: exit 73', () => {
  it.each([
    ['the same spec', 'aes-256'],
    ['another spec', 'ec-p384'],
  ])('create wrapkey again with %s', (_name, spec) => {
    const { json } = bothFail(['create', 'wrapkey', '--spec', spec], 73, 'exists');
    expect(json.message).toContain('wrapkey');
    expectUnchanged();
  });
});

describe('a ledger bound to another token: exit 78', () => {
  it('--module and --token-serial selecting another home\'s token', () => {
    const other = ok(kj(['init'], { home: foreignHome })).token.serial as string;
    const before = { token: tokenSnapshot(foreignHome), rows: ledgerRows(foreignHome) };
    const env = { SOFTHSM2_CONF: join(foreignHome, 'softhsm', 'softhsm2.conf'), KMSCTL_PIN: userPin(foreignHome) };
    for (const args of [['wrap', 'wrapkey', '--in', file('dek', dek)], ['create', 'mismatch-key', '--spec', 'aes-256'], ['rotate', 'wrapkey']]) {
      const { json } = bothFail(['--module', softHsmModule(), '--token-serial', other, ...args], 78, 'config', env);
      expect(json.reason).toBe('token-mismatch');
      expect(json.message).toContain(other);
    }
    expectUnchanged();
    expect(tokenSnapshot(foreignHome)).toEqual(before.token);
    expect(ledgerRows(foreignHome)).toEqual(before.rows);
  });

  it('ledger.db copied into a home whose embedded token is another one', () => {
    const third = initHome();
    try {
      for (const f of ['ledger.db', 'ledger.db-wal', 'ledger.db-shm']) rmSync(join(third, f), { force: true });
      for (const f of ['ledger.db', 'ledger.db-wal']) if (existsSync(join(home, f))) copyFileSync(join(home, f), join(third, f));
      const tokenBefore = tokenSnapshot(third);
      const rowsBefore = ledgerRows(third);
      const auditBefore = auditCount(third);
      // init notices the foreign binding; so must every command that uses the token.
      expect(fails(kj(['init'], { home: third }), 78, 'config').reason).toBe('token-mismatch');
      for (const args of [['wrap', 'wrapkey', '--in', file('dek', dek)], ['create', 'copied-key', '--spec', 'aes-256'], ['sign', 'signkey', '--in', file('msg', 'hi')]]) {
        const r = kj(args, { home: third });
        const e = fails(r, 78, 'config');
        expect(e.reason).toBe('token-mismatch');
        failsPlain(kms(args, { home: third }), 78);
      }
      expect(tokenSnapshot(third)).toEqual(tokenBefore);
      expect(ledgerRows(third)).toEqual(rowsBefore);
      expect(auditCount(third)).toBeGreaterThanOrEqual(auditBefore);
    } finally {
      removeDir(third);
    }
  });
});
