// Policy files in, every error with its file:line:column out: one fixture per trap or mistake, with the
// place each error must point at (test/fixtures/policies/bad/expected.json), plus the example policies.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicies, type PolicyText } from '../../src/policy/load.js';
import { yaml11Trap } from '../../src/policy/traps.js';
import { ROOT } from '../helpers/cli.js';

const BAD = join(ROOT, 'test', 'fixtures', 'policies', 'bad');
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

  it('hash the same whatever order the files come in', () => {
    const reversed = parse(...[...files].reverse().map((f) => text(EXAMPLES, f)));
    expect(reversed.policy!.hash).toBe(r.policy!.hash);
  });
});
