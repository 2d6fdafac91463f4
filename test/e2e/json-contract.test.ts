// The --json contract of SPEC section 7, command by command, through the built binary on a real SoftHSM
// token: every command of the command table (subcommands included) is made to fail on purpose and must
// print exactly one JSON document on stdout, {"ok":false,"error":{code,message,exitCode}}, with the exit
// code of the SPEC, nothing else on stdout and no colour codes, even with colour forced. A command added
// to the table without a case here fails the first test.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/command-table.js';
import { initHome, kms, removeDir, ROOT, softHsmModule, tempDir, type RunResult } from '../helpers/cli.js';
import { kj, ledgerRows, ok, pkcs11Tool } from '../helpers/e2e.js';

/** SPEC section 7: the exit code of each error code. */
const EXIT_OF: Record<string, number> = {
  'check-failed': 1,
  usage: 64,
  'bad-data': 65,
  'not-found': 66,
  unavailable: 69,
  internal: 70,
  exists: 73,
  temporary: 75,
  denied: 77,
  config: 78,
  cancelled: 130,
};

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/;

/** Colour forced on: --json alone must keep escape codes out. */
const COLOUR = { NO_COLOR: undefined, FORCE_COLOR: '3', TERM: 'xterm-256color' };

let home: string;
let driftHome: string;
let noPinHome: string;
let empty: string;
let work: string;
let aFile: string;
let blobFile: string;
let msgFile: string;
let sigFile: string;
let badSigFile: string;
let macFile: string;

const file = (name: string, content: Buffer | string) => {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
};

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 1500)}\nstderr: ${r.stderr.slice(0, 1500)}`;

/** Exactly one JSON document, one line, newline-terminated, and nothing else on stdout; no ANSI anywhere. */
function oneDocument(r: RunResult): any {
  expect(r.stdout, show(r)).not.toMatch(ANSI);
  expect(r.stderr, show(r)).not.toMatch(ANSI);
  expect(r.stdout.endsWith('\n'), `stdout must end with a newline\n${show(r)}`).toBe(true);
  const body = r.stdout.slice(0, -1);
  expect(body.includes('\n'), `stdout must hold one line\n${show(r)}`).toBe(false);
  let doc: any;
  expect(() => (doc = JSON.parse(body)), `stdout must be one JSON document\n${show(r)}`).not.toThrow();
  expect(doc !== null && typeof doc === 'object' && !Array.isArray(doc), show(r)).toBe(true);
  return doc;
}

/** The failure half of the contract; returns the error object. */
function jsonFailure(r: RunResult, exitCode: number): { code: string; message: string; exitCode: number; hint?: string } {
  const doc = oneDocument(r);
  expect(doc.ok, show(r)).toBe(false);
  const e = doc.error;
  expect(e && typeof e === 'object', show(r)).toBe(true);
  expect(typeof e.code, show(r)).toBe('string');
  expect(typeof e.message, show(r)).toBe('string');
  expect(e.message.length, show(r)).toBeGreaterThan(0);
  expect(typeof e.exitCode, show(r)).toBe('number');
  expect(e.exitCode, show(r)).toBe(r.code);
  expect(r.code, show(r)).toBe(exitCode);
  expect(EXIT_OF[e.code], `error code ${e.code} must carry its SPEC exit code\n${show(r)}`).toBe(r.code);
  expect(r.stdout + r.stderr, 'no stack trace').not.toMatch(/\n\s+at .+:\d+:\d+/);
  return e;
}

function jsonSuccess(r: RunResult): any {
  expect(r.code, show(r)).toBe(0);
  const doc = oneDocument(r);
  expect(doc.ok, show(r)).toBe(true);
  return doc;
}

interface Failure {
  why: string;
  args: () => string[];
  exit: number;
  env?: Record<string, string | undefined>;
  /** Words the message must contain. */
  says?: string[];
  /** Another home than the shared one. */
  home?: () => string;
}

interface Case {
  fail: Failure[];
  /** A cheap success, run after the failures. */
  ok?: () => string[];
}

const CASES: Record<string, Case> = {
  init: {
    fail: [
      { why: 'module missing', args: () => ['init', '--module', '/nonexistent/libnope.so', '--token', 'x'], env: { KMSCTL_PIN: '1234' }, exit: 69 },
      { why: 'home is a file', args: () => ['init', '--home', aFile], exit: 78 },
    ],
    ok: () => ['init'],
  },
  create: {
    fail: [
      { why: 'alias exists', args: () => ['create', 'wk', '--spec', 'aes-256'], exit: 73 },
      { why: 'bad --spec value', args: () => ['create', 'x1', '--spec', 'aes-1'], exit: 64, says: ['aes-256'] },
      { why: 'missing alias', args: () => ['create'], exit: 64 },
    ],
    ok: () => ['create', 'fresh', '--spec', 'aes-256'],
  },
  list: {
    fail: [
      { why: 'bad --state value', args: () => ['list', '--state', 'bogus'], exit: 64 },
      { why: 'no ledger', args: () => ['list', '--home', empty], exit: 78 },
    ],
    ok: () => ['list'],
  },
  show: { fail: [{ why: 'unknown key', args: () => ['show', 'nope'], exit: 66 }], ok: () => ['show', 'wk'] },
  rotate: {
    fail: [
      { why: 'unknown key', args: () => ['rotate', 'nope'], exit: 66 },
      { why: 'no key and no --due', args: () => ['rotate'], exit: 64 },
    ],
    ok: () => ['rotate', 'rot'],
  },
  wrap: {
    fail: [
      { why: 'unknown key', args: () => ['wrap', 'nope', '--in', msgFile], exit: 66 },
      { why: 'missing input file', args: () => ['wrap', 'wk', '--in', join(work, 'missing')], exit: 66, says: ['no such file', '/missing'] },
      { why: 'signing key', args: () => ['wrap', 'sk', '--in', msgFile], exit: 64 },
    ],
    ok: () => ['wrap', 'wk', '--in', msgFile],
  },
  unwrap: {
    fail: [
      { why: 'not a blob', args: () => ['unwrap', '--in', msgFile], exit: 65 },
      { why: 'context mismatch', args: () => ['unwrap', '--in', blobFile, '--context', 'tenant=other'], exit: 65 },
    ],
    ok: () => ['unwrap', '--in', blobFile, '--context', 'tenant=acme'],
  },
  datakey: {
    fail: [
      { why: 'bad --bytes value', args: () => ['datakey', 'wk', '--bytes', '7'], exit: 64 },
      { why: 'unknown key', args: () => ['datakey', 'nope'], exit: 66 },
    ],
    ok: () => ['datakey', 'wk'],
  },
  rewrap: {
    fail: [{ why: 'not a blob', args: () => ['rewrap', '--in', msgFile], exit: 65 }],
    ok: () => ['rewrap', '--in', blobFile, '--context', 'tenant=acme'],
  },
  sign: {
    fail: [
      { why: 'wrapping key', args: () => ['sign', 'wk', '--in', msgFile], exit: 64 },
      { why: 'unknown key', args: () => ['sign', 'nope', '--in', msgFile], exit: 66 },
      { why: 'bad --digest value', args: () => ['sign', 'sk', '--in', msgFile, '--digest', 'md5'], exit: 64 },
    ],
    ok: () => ['sign', 'sk', '--in', msgFile],
  },
  verify: {
    fail: [
      { why: 'signature does not verify', args: () => ['verify', 'sk', '--in', msgFile, '--signature', badSigFile], exit: 1 },
      { why: 'no --signature', args: () => ['verify', 'sk', '--in', msgFile], exit: 64, says: ['--signature'] },
      { why: 'missing signature file', args: () => ['verify', 'sk', '--in', msgFile, '--signature', join(work, 'missing')], exit: 66, says: ['no such file', '/missing'] },
    ],
    ok: () => ['verify', 'sk', '--in', msgFile, '--signature', sigFile],
  },
  'public-key': {
    fail: [
      { why: 'symmetric key', args: () => ['public-key', 'wk'], exit: 64 },
      { why: 'unknown version', args: () => ['public-key', 'sk', '--version', '9'], exit: 66 },
      { why: 'bad --version', args: () => ['public-key', 'sk', '--version', 'two'], exit: 64 },
    ],
    ok: () => ['public-key', 'sk'],
  },
  mac: {
    fail: [
      { why: 'unknown key', args: () => ['mac', 'nope', '--in', msgFile], exit: 66 },
      { why: 'wrapping key', args: () => ['mac', 'wk', '--in', msgFile], exit: 64 },
    ],
    ok: () => ['mac', 'mk', '--in', msgFile],
  },
  'mac-verify': {
    fail: [
      { why: 'MAC does not match', args: () => ['mac-verify', 'mk', '--in', msgFile, '--mac', badSigFile], exit: 1 },
      { why: 'no --mac', args: () => ['mac-verify', 'mk', '--in', msgFile], exit: 64, says: ['--mac'] },
    ],
    ok: () => ['mac-verify', 'mk', '--in', msgFile, '--mac', macFile],
  },
  disable: {
    fail: [
      { why: 'unknown key', args: () => ['disable', 'nope'], exit: 66 },
      { why: 'bad --version', args: () => ['disable', 'dk', '--version', '0'], exit: 64 },
    ],
    ok: () => ['disable', 'dk'],
  },
  enable: { fail: [{ why: 'unknown key', args: () => ['enable', 'nope'], exit: 66 }], ok: () => ['enable', 'dk'] },
  delete: {
    fail: [
      { why: 'no --yes outside a TTY', args: () => ['delete', 'del'], exit: 64, says: ['--yes'] },
      { why: 'unknown key', args: () => ['delete', 'nope', '--yes'], exit: 66 },
      { why: 'window out of range', args: () => ['delete', 'del', '--window', '1d', '--yes'], exit: 64 },
    ],
    ok: () => ['delete', 'del', '--yes'],
  },
  restore: {
    fail: [
      { why: 'not pending deletion', args: () => ['restore', 'wk'], exit: 77 },
      { why: 'unknown key', args: () => ['restore', 'nope'], exit: 66 },
    ],
    ok: () => ['restore', 'del'],
  },
  purge: {
    fail: [
      { why: 'no ledger', args: () => ['purge', '--yes', '--home', empty], exit: 78 },
      { why: 'unknown option', args: () => ['purge', '--dryrun'], exit: 64, says: ['--dry-run'] },
    ],
    ok: () => ['purge', '--dry-run'],
  },
  approve: {
    fail: [
      { why: 'unknown request', args: () => ['approve', 'r_000000000000', '--yes'], exit: 66 },
      { why: 'missing id', args: () => ['approve'], exit: 64 },
    ],
  },
  requests: { fail: [{ why: 'no ledger', args: () => ['requests', '--home', empty], exit: 78 }], ok: () => ['requests'] },
  policy: { fail: [{ why: 'no subcommand', args: () => ['policy'], exit: 64, says: ['validate', 'plan', 'apply'] }] },
  'policy validate': {
    fail: [
      { why: 'YAML syntax error', args: () => ['policy', 'validate', join(work, 'bad.yaml')], exit: 65 },
      { why: 'missing file', args: () => ['policy', 'validate', join(work, 'missing.yaml')], exit: 66 },
    ],
    ok: () => ['policy', 'validate', join(ROOT, 'policies')],
  },
  'policy plan': {
    fail: [
      { why: 'YAML syntax error', args: () => ['policy', 'plan', join(work, 'bad.yaml')], exit: 65 },
      { why: 'missing file', args: () => ['policy', 'plan', join(work, 'missing.yaml')], exit: 66 },
    ],
    ok: () => ['policy', 'plan', join(ROOT, 'policies')],
  },
  'policy apply': {
    fail: [
      { why: 'YAML syntax error', args: () => ['policy', 'apply', join(work, 'bad.yaml'), '--yes'], exit: 65 },
      { why: 'missing file', args: () => ['policy', 'apply', join(work, 'missing.yaml'), '--yes'], exit: 66 },
    ],
  },
  doctor: {
    fail: [
      { why: 'a key object gone from the token', args: () => ['doctor'], exit: 1, home: () => driftHome },
      { why: 'no ledger', args: () => ['doctor', '--home', empty], exit: 78 },
    ],
    ok: () => ['doctor'],
  },
  audit: {
    fail: [
      { why: 'bad --limit', args: () => ['audit', '--limit', 'x'], exit: 64 },
      { why: 'bad --outcome value', args: () => ['audit', '--outcome', 'maybe'], exit: 64 },
      { why: 'bad --since', args: () => ['audit', '--since', 'bogus'], exit: 64 },
    ],
    ok: () => ['audit', '--limit', '5'],
  },
  'audit verify': {
    fail: [
      { why: 'missing checkpoint file', args: () => ['audit', 'verify', '--checkpoint', join(work, 'missing.json')], exit: 66, says: ['no such file', '/missing.json'] },
      { why: 'an edited record', args: () => ['audit', 'verify', '--chain-only'], exit: 1, home: () => driftHome },
    ],
    ok: () => ['audit', 'verify'],
  },
  'audit export': {
    fail: [
      { why: 'no --out', args: () => ['audit', 'export'], exit: 64, says: ['--out'] },
      { why: 'unwritable --out', args: () => ['audit', 'export', '--out', join(work, 'no', 'such', 'dir', 'a.jsonl')], exit: 64 },
    ],
    ok: () => ['audit', 'export', '--out', join(work, 'export.jsonl')],
  },
  report: {
    fail: [
      { why: '--json with another --format', args: () => ['report', '--format', 'table'], exit: 64 },
      { why: 'bad --since', args: () => ['report', '--since', 'bogus'], exit: 64 },
    ],
    ok: () => ['report'],
  },
  completion: {
    fail: [
      { why: 'unknown shell', args: () => ['completion', 'tcsh'], exit: 64, says: ['bash', 'zsh', 'fish'] },
      { why: 'missing shell', args: () => ['completion'], exit: 64 },
    ],
    ok: () => ['completion', 'bash'],
  },
  demo: { fail: [{ why: 'home is a file', args: () => ['demo', '--home', aFile], exit: 1 }] },
};

const pathOf = (c: { name: string; parent?: string }) => (c.parent ? `${c.parent} ${c.name}` : c.name);
const VISIBLE = COMMANDS.filter((c) => !c.hidden).map(pathOf);

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  empty = tempDir('kmsctl-empty-');
  aFile = file('a-file', 'not a directory\n');
  file('bad.yaml', 'keys: [\n  - alias: x\n');
  msgFile = file('msg', randomBytes(48));
  for (const [alias, spec] of [['wk', 'aes-256'], ['sk', 'ec-p256'], ['mk', 'hmac-sha256'], ['rot', 'aes-256'], ['dk', 'aes-256'], ['del', 'aes-256']]) {
    ok(kj(['create', alias, '--spec', spec], { home }));
  }
  blobFile = file('blob', `${ok(kj(['wrap', 'wk', '--in', msgFile, '--context', 'tenant=acme'], { home })).blob}\n`);
  sigFile = file('sig', Buffer.from(ok(kj(['sign', 'sk', '--in', msgFile], { home })).signature, 'base64'));
  macFile = file('mac', Buffer.from(ok(kj(['mac', 'mk', '--in', msgFile], { home })).mac, 'base64'));
  badSigFile = file('bad-sig', randomBytes(70).toString('base64'));

  // A second token whose ledger and token disagree (a key object destroyed behind kmsctl's back) and
  // whose audit trail was edited: doctor and audit verify have something to find there.
  driftHome = initHome();
  ok(kj(['create', 'gone', '--spec', 'aes-256'], { home: driftHome }));
  const ckaId = ledgerRows(driftHome).versions[0].cka_id;
  const del = pkcs11Tool(driftHome, ['--delete-object', '--type', 'secrkey', '--id', ckaId]);
  expect(del.code, del.stderr).toBe(0);
  ok(kj(['list'], { home: driftHome }));
  const sqlite = kms(['audit', '--json'], { home: driftHome });
  expect(jsonSuccess(sqlite).records.length).toBeGreaterThan(1);
  // Not through kmsctl: straight into ledger.db, as an intruder would.
  const db = new Database(join(driftHome, 'ledger.db'));
  db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = (SELECT MAX(seq) FROM audit)").run();
  db.close();

  // A home whose PIN nobody can read: no KMSCTL_PIN, no --pin-file, the embedded pin file moved away.
  noPinHome = initHome();
  ok(kj(['create', 'k', '--spec', 'aes-256'], { home: noPinHome }));
  renameSync(join(noPinHome, 'softhsm', 'user.pin'), join(noPinHome, 'user.pin.away'));
});

afterAll(() => {
  for (const d of [home, driftHome, noPinHome, empty]) if (d) removeDir(d);
});

describe('the table and the cases', () => {
  it('every visible command and subcommand of the command table has a case here, and no case is stale', () => {
    expect(VISIBLE.length).toBeGreaterThan(20);
    expect(Object.keys(CASES).sort()).toEqual([...VISIBLE].sort());
  });
});

describe.each(VISIBLE)('kmsctl %s --json', (path) => {
  const c = (): Case => {
    const found = CASES[path];
    if (!found) throw new Error(`no --json case for "${path}": add one to CASES`);
    return found;
  };

  it('fails with one JSON error document and the SPEC exit code', () => {
    const cases = c().fail;
    expect(cases.length).toBeGreaterThan(0);
    for (const f of cases) {
      const r = kms([...f.args(), '--json'], { home: f.home?.() ?? home, env: { ...COLOUR, ...f.env } });
      const e = jsonFailure(r, f.exit);
      expect(e.exitCode, f.why).not.toBe(70);
      for (const w of f.says ?? []) expect(e.message, `${f.why}: the message names ${w}`).toContain(w);
    }
  });

  it('succeeds with one {"ok":true} document where that is cheap', () => {
    const args = c().ok?.();
    if (!args) return;
    jsonSuccess(kms([...args, '--json'], { home, env: COLOUR }));
  });
});

describe('usage errors name the way out', () => {
  it('an unknown option is 64 and suggests the nearest valid one', () => {
    const e = jsonFailure(kms(['wrap', 'wk', '--contxt', 'a=b', '--json'], { home }), 64);
    expect(e.message).toContain('--contxt');
    expect(e.message).toContain('--context');
    const g = jsonFailure(kms(['list', '--pin-flie', 'x', '--json'], { home }), 64);
    expect(g.message).toContain('--pin-file');
  });

  it('an unknown command is 64 and suggests the nearest one, at the top and under audit and policy', () => {
    const cases: Array<[string[], string, string]> = [
      [['wrp'], 'wrp', 'wrap'],
      [['rotat', 'wk'], 'rotat', 'rotate'],
      [['audit', 'verfy'], 'verfy', 'verify'],
      [['policy', 'plna', 'x.yaml'], 'plna', 'plan'],
      [['help', 'unwarp'], 'unwarp', 'unwrap'],
    ];
    for (const [args, bad, near] of cases) {
      const e = jsonFailure(kms([...args, '--json'], { home }), 64);
      expect(e.message, args.join(' ')).toContain(`'${bad}'`);
      expect(e.message, args.join(' ')).toContain(`Did you mean ${near}?`);
    }
  });

  it('no command at all is 64, as one JSON document', () => {
    const e = jsonFailure(kms(['--json'], { home }), 64);
    expect(e.message).toContain('wrap');
  });

  it('--json with no PIN source is 64 naming KMSCTL_PIN and --pin-file, not a prompt', () => {
    for (const env of [{}, { CI: undefined }] as Array<Record<string, string | undefined>>) {
      const r = kms(['wrap', 'k', '--in', msgFile, '--json'], { home: noPinHome, env });
      const e = jsonFailure(r, 64);
      expect(e.message).toContain('KMSCTL_PIN');
      expect(e.message).toContain('--pin-file');
    }
    // The same home works once a source is given.
    const pinFile = join(noPinHome, 'user.pin.away');
    jsonSuccess(kms(['wrap', 'k', '--in', msgFile, '--pin-file', pinFile, '--json'], { home: noPinHome }));
  });

  it('a reader that goes away early (| head) is not a crash: no stack trace, the exit code stays the command\'s', () => {
    const r = kms(['audit', '--json'], { home });
    expect(r.code).toBe(0);
    for (const [args, code] of [[['list', '--json'], 0], [['--help'], 0], [['show', 'nope', '--json'], 66]] as const) {
      const sh = spawnSync('bash', ['-c', `"${process.execPath}" "${join(ROOT, 'bin', 'kmsctl')}" ${args.join(' ')} | true; echo "exit=\${PIPESTATUS[0]}"`], {
        env: { PATH: process.env.PATH, HOME: home, KMSCTL_HOME: home, CI: '1', NO_COLOR: '1' },
        encoding: 'utf8',
      });
      expect(sh.stderr, args.join(' ')).toBe('');
      expect(sh.stdout.trim(), args.join(' ')).toBe(`exit=${code}`);
    }
  });
});
