// Policy files in, every error with its file:line:column out: one fixture per trap or mistake, with the
// place each error must point at (test/fixtures/policies/bad/expected.json), plus the example policies.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicies, type PolicyText } from '../../src/policy/load.js';
import { yaml11Trap } from '../../src/policy/traps.js';
import { ROOT } from '../helpers/cli.js';

const BAD = join(ROOT, 'test', 'fixtures', 'policies', 'bad');
const MANY = join(ROOT, 'test', 'fixtures', 'policies', 'many');
const EXAMPLES = join(ROOT, 'policies');
const expected = JSON.parse(readFileSync(join(BAD, 'expected.json'), 'utf8')) as Record<string, Array<{ line: number; column: number; says: string }>>;

function text(dir: string, name: string): PolicyText {
  return { file: name, text: readFileSync(join(dir, name), 'utf8') };
}

function parse(...texts: PolicyText[]) {
  return parsePolicies(texts);
}

describe('bad policy files: each error where it is, saying what was expected', () => {
  for (const [name, want] of Object.entries(expected)) {
    it(name, () => {
      const r = parse(text(BAD, name));
      expect(r.policy).toBeNull();
      expect(r.errors.map((e) => ({ file: e.file, line: e.line, column: e.column }))).toEqual(want.map((w) => ({ file: name, line: w.line, column: w.column })));
      want.forEach((w, i) => expect(r.errors[i].message).toContain(w.says));
    });
  }

  it('every fixture in the corpus has its expectation', () => {
    const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml') && !f.startsWith('alias-twice-'));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it('an alias declared twice across files points at the second, naming the first', () => {
    const r = parse(text(BAD, 'alias-twice-a.yaml'), text(BAD, 'alias-twice-b.yaml'));
    expect(r.errors).toEqual([{ file: 'alias-twice-b.yaml', line: 5, column: 12, message: 'alias "payments" is declared twice: first at alias-twice-a.yaml:3:12' }]);
  });

  it('reports every error of a file, not only the first', () => {
    const r = parse({ file: 'many.yaml', text: 'version: 1\nkeys:\n  - alias: a\n    spec: aes-512\n    exportable: no\n    colour: red\n' });
    expect(r.errors.map((e) => `${e.line}:${e.column}`)).toEqual(['4:11', '5:17', '6:5']);
  });

  it('an alias declared twice across files is found even when both files have other errors', () => {
    const a = { file: 'x.yaml', text: 'version: 1\nkeys:\n  - alias: dup\n    spec: aes-512\n' };
    const b = { file: 'y.yaml', text: 'version: 1\ncolour: red\nkeys:\n  - alias: dup\n    spec: aes-256\n    exportable: yes\n' };
    expect(parse(a, b).errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual(['x.yaml:4:11', 'y.yaml:2:1', 'y.yaml:4:12', 'y.yaml:6:17']);
    expect(parse(a, b).errors[2].message).toBe('alias "dup" is declared twice: first at x.yaml:3:12');
  });

  it('quoted yes and explicit !!str are strings, never errors', () => {
    const r = parse({ file: 'q.yaml', text: 'version: 1\nkeys:\n  - alias: a\n    spec: aes-256\n    labels: { pci: "yes", dr: !!str on, mode: "0755", at: "1:30" }\n' });
    expect(r.errors).toEqual([]);
    expect(r.policy!.keys[0].labels).toEqual({ pci: 'yes', dr: 'on', mode: '0755', at: '1:30' });
  });

  it('an empty file and a second document are errors', () => {
    expect(parse({ file: 'e.yaml', text: '' }).errors[0]).toMatchObject({ line: 1, column: 1, message: expect.stringContaining('empty file') });
    expect(parse({ file: 'd.yaml', text: 'version: 1\n---\nversion: 1\n' }).errors[0]).toMatchObject({ line: 2, column: 1, message: expect.stringContaining('one document') });
  });
});

describe('every error of every file in one run (test/fixtures/policies/many)', () => {
  // a.yaml has schema errors, YAML 1.1 traps, durations out of range and not a duration, an unknown
  // role; b.yaml declares a.yaml's k1 again. Each error is reported whatever else is wrong.
  const A = text(MANY, 'a.yaml');
  const B = text(MANY, 'b.yaml');
  const WANT = [
    ['a.yaml:4:11', 'spec: expected one of aes-256, hmac-sha256, ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096, got "aes-512"'],
    ['a.yaml:5:17', 'unquoted yes is the boolean true in YAML 1.1'],
    ['a.yaml:6:5', 'unknown field "colour" in keys entry 1'],
    ['a.yaml:9:22', 'rotation-period "1.5d" is not a duration: write a whole number and a unit (s, m, h, d or w), lower case and with no spaces'],
    ['a.yaml:11:12', 'unquoted no is the boolean false in YAML 1.1'],
    ['a.yaml:14:22', 'deletion-window "3d" is out of range: allowed 7d..30d'],
    ['a.yaml:15:22', 'rotation-period "0d" is out of range: allowed 1d..3650d'],
    ['a.yaml:18:13', 'actors: expected a list, got "alice"'],
    ['a.yaml:21:21', 'unknown role "auditors"'],
    ['a.yaml:22:19', 'allow entry 2: expected one of *, create'],
    ['b.yaml:3:12', 'alias "k1" is declared twice: first at a.yaml:3:12'],
    ['b.yaml:5:22', 'rotation-period "90D" is not a duration'],
  ];

  it('lists all twelve, each at its file:line:column, in file then line order', () => {
    const r = parse(A, B);
    expect(r.policy).toBeNull();
    expect(r.errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual(WANT.map(([at]) => at));
    WANT.forEach(([, says], i) => expect(r.errors[i].message).toContain(says));
  });

  it('each file alone gives its own errors and nothing more', () => {
    expect(parse(A).errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual(WANT.filter(([at]) => at.startsWith('a.yaml')).map(([at]) => at));
    expect(parse(B).errors.map((e) => `${e.file}:${e.line}:${e.column}`)).toEqual(['b.yaml:5:22']);
  });

  it('is the same on every run, and follows the order the files are given in', () => {
    expect(parse(A, B).errors).toEqual(parse(A, B).errors);
    const reversed = parse(B, A).errors.map((e) => `${e.file}:${e.line}:${e.column}`);
    expect(reversed.slice(0, 2)).toEqual(['b.yaml:5:22', 'a.yaml:3:12']);
    expect(parse(B, A).errors[1].message).toBe('alias "k1" is declared twice: first at b.yaml:3:12');
  });
});

describe('values echoed back in errors are shortened', () => {
  const long = 'a'.repeat(20_000_000);
  const short = `"${'a'.repeat(59)}…"`;

  it.each([
    ['a 20 MB single-line file', `${long}\n`, 'the file: expected a mapping, got'],
    ['a long unknown field', `version: 1\n${long.slice(0, 1000)}: 1\n`, 'unknown field'],
    ['a long alias declared twice', `version: 1\nkeys:\n  - alias: k_${long}\n    spec: aes-256\n`, 'alias'],
    ['a long duration', `version: 1\nkeys:\n  - alias: a\n    spec: aes-256\n    rotation-period: ${'9'.repeat(100_000)}d\n`, 'out of range'],
    ['a long duplicate key', `version: 1\n${long.slice(0, 1000)}: 1\n${long.slice(0, 1000)}: 2\n`, 'duplicate key'],
    ['a long base-60 trap', `version: 1\nkeys:\n  - alias: a\n    spec: aes-256\n    rotation-period: ${'1'.repeat(100_000)}:30\n`, 'base-60'],
  ])('%s', (_name, body, says) => {
    const r = parse({ file: 'big.yaml', text: body });
    expect(r.errors.length).toBeGreaterThan(0);
    const hit = r.errors.find((e) => e.message.includes(says))!;
    expect(hit, r.errors.map((e) => e.message.slice(0, 200)).join('\n')).toBeDefined();
    for (const e of r.errors) expect(e.message.length).toBeLessThan(400);
    expect(hit.message).toContain('…"');
  });

  it('the 20 MB file gives exactly the shortened value', () => {
    expect(parse({ file: 'big.yaml', text: `${long}\n` }).errors).toEqual([{ file: 'big.yaml', line: 1, column: 1, message: `the file: expected a mapping, got ${short}` }]);
  });
});

describe('YAML 1.1 traps', () => {
  it.each([
    ['yes', 'boolean'],
    ['No', 'boolean'],
    ['ON', 'boolean'],
    ['off', 'boolean'],
    ['y', 'boolean'],
    ['0755', 'leading-zero'],
    ['-012', 'leading-zero'],
    ['0o17', 'octal-0o'],
    ['1:30', 'sexagesimal'],
    ['190:20:30', 'sexagesimal'],
    ['0b101', 'binary'],
    ['1_000', 'digit-separator'],
  ])('%s is a %s trap', (raw, kind) => {
    expect(yaml11Trap(raw)?.kind).toBe(kind);
  });

  it.each(['true', 'false', '0', '10', '90d', 'yesterday', 'none', '0x1F', '1.5', 'ci-*'])('%s reads the same in both versions', (raw) => {
    expect(yaml11Trap(raw)).toBeNull();
  });
});

describe('the example policies', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
  const r = parse(...files.map((f) => text(EXAMPLES, f)));

  it('validate', () => {
    expect(r.errors).toEqual([]);
  });

  it('declare a payments wrap key with 90d rotation and a release-signing key', () => {
    const byAlias = Object.fromEntries(r.policy!.keys.map((k) => [k.alias, k]));
    expect(byAlias['payments-wrap']).toMatchObject({ spec: 'aes-256', rotationPeriodS: 90 * 86400 });
    expect(byAlias['release-signing']).toMatchObject({ spec: 'ec-p256' });
  });

  it('give CI only wrap and sign, and security-admin a two-person rule', () => {
    const ci = r.policy!.rules.filter((x) => x.roles.includes('ci'));
    expect(ci.flatMap((x) => x.allow).sort()).toEqual(['sign', 'wrap']);
    const admin = r.policy!.roles.find((x) => x.name === 'security-admin')!;
    expect(admin.approvers).toBe(1);
    expect(admin.approvalFor).toEqual(['delete', 'purge', 'restore']);
  });

  it('are shown in the README as they are: keys.yaml in full', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /`policies\/keys\.yaml`, in full:\n\n```yaml\n([\s\S]*?)```\n/.exec(readme);
    expect(block, 'the README has a block introduced as policies/keys.yaml in full').not.toBeNull();
    expect(block![1]).toBe(readFileSync(join(EXAMPLES, 'keys.yaml'), 'utf8'));
  });

  it('hash the same whatever order the files come in', () => {
    const reversed = parse(...[...files].reverse().map((f) => text(EXAMPLES, f)));
    expect(reversed.policy!.hash).toBe(r.policy!.hash);
  });
});
