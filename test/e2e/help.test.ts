// Help as an operator reads it, through the built binary: every command and option of the command table
// has a one-line description, every command shows at least one example in `--help`, the examples use
// only flags the command has, and `kmsctl help COMMAND` prints the same as `kmsctl COMMAND --help`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from '../../src/cli/command-table.js';
import { kms, removeDir, tempDir, type RunResult } from '../helpers/cli.js';
import { failsPlain } from '../helpers/e2e.js';

const pathOf = (c: CommandSpec) => (c.parent ? `${c.parent} ${c.name}` : c.name);
const VISIBLE = COMMANDS.filter((c) => !c.hidden);
const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** The long and short names of an option: "-y, --yes" -> ["-y", "--yes"]; "--no-input" also gives "--input". */
function names(o: OptionSpec): string[] {
  return o.flags.split(/[ ,|]+/).filter((w) => w.startsWith('-'));
}

function oneLine(text: string, what: string): void {
  expect(text.trim().length, `${what}: empty description`).toBeGreaterThan(0);
  expect(text, `${what}: description must be one line`).not.toMatch(/[\r\n]/);
  expect(text.length, `${what}: description longer than a line`).toBeLessThanOrEqual(200);
  expect(text, `${what}: no stray whitespace`).toBe(text.trim());
}

let home: string;
const helpOf = new Map<string, RunResult>();

beforeAll(() => {
  // Help never needs a ledger or a token: an empty home proves it.
  home = tempDir('kmsctl-help-');
  for (const c of VISIBLE) helpOf.set(pathOf(c), kms([...pathOf(c).split(' '), '--help'], { home }));
});

afterAll(() => removeDir(home));

describe('the command table', () => {
  it('every command has a one-line summary and at least one example that runs kmsctl', () => {
    for (const c of VISIBLE) {
      oneLine(c.summary, pathOf(c));
      expect(c.examples.length, `${pathOf(c)} has no example`).toBeGreaterThan(0);
      for (const e of c.examples) {
        oneLine(e, `${pathOf(c)} example`);
        expect(e, `${pathOf(c)} example`).toContain('kmsctl ');
      }
      expect(c.examples.some((e) => e.startsWith(`kmsctl ${pathOf(c)}`)), `${pathOf(c)}: no example starts with "kmsctl ${pathOf(c)}"`).toBe(true);
    }
  });

  it('every option, global ones included, has a one-line description', () => {
    for (const o of GLOBAL_OPTIONS) oneLine(o.description, `global ${o.flags}`);
    for (const c of VISIBLE) for (const o of c.options ?? []) oneLine(o.description, `${pathOf(c)} ${o.flags}`);
  });

  it('examples name a real command and use only the flags it has (its own, the global ones, --help)', () => {
    const globals = GLOBAL_OPTIONS.flatMap(names);
    for (const c of VISIBLE) {
      for (const e of c.examples) {
        // Each kmsctl part of a shell line: from "kmsctl" up to a pipe, a redirection or a closing parenthesis.
        const words = e.split(/\s+/);
        for (let start = words.indexOf('kmsctl'); start >= 0; start = words.indexOf('kmsctl', start + 1)) {
          const own: string[] = [];
          for (const w of words.slice(start + 1)) {
            if (/^(\||>|<|>>|2>|&&|;)$/.test(w)) break;
            own.push(w.replace(/\)$/, ''));
            if (w.endsWith(')')) break;
          }
          const positional = own.filter((w) => !w.startsWith('-'));
          const target = VISIBLE.find((t) => t.parent && t.parent === positional[0] && t.name === positional[1]) ?? VISIBLE.find((t) => !t.parent && t.name === positional[0]);
          expect(target, `${pathOf(c)} example "${e}" runs no known command`).toBeDefined();
          const allowed = new Set([...globals, ...(target!.options ?? []).flatMap(names), '--help', '-h']);
          for (const w of own) {
            if (!w.startsWith('-')) continue;
            expect(allowed.has(w.split('=')[0]), `${pathOf(c)} example "${e}" uses ${w}, which ${pathOf(target!)} does not have`).toBe(true);
          }
        }
      }
    }
  });
});

describe.each(VISIBLE.map(pathOf))('kmsctl %s --help', (path) => {
  const spec = VISIBLE.find((c) => pathOf(c) === path)!;

  it('prints usage, the summary, every option with its description and the examples, on stdout, exit 0', () => {
    const r = helpOf.get(path)!;
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr, show(r)).toBe('');
    const text = squash(r.stdout);
    expect(r.stdout.startsWith(`Usage: kmsctl ${path}`), show(r)).toBe(true);
    expect(text).toContain(squash(spec.summary));
    for (const o of spec.options ?? []) expect(text, `${path} ${o.flags}`).toContain(squash(`${o.flags} ${o.description}`));
    const examples = r.stdout.slice(r.stdout.indexOf('\nExamples:\n'));
    expect(r.stdout).toContain('\nExamples:\n');
    for (const e of spec.examples) expect(examples, `${path} example`).toContain(`  $ ${e}\n`);
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it('kmsctl help <command> prints the same', () => {
    const r = kms(['help', ...path.split(' ')], { home });
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toBe(helpOf.get(path)!.stdout);
  });
});

describe('kmsctl --help and kmsctl help', () => {
  it('lists every visible top-level command with its summary and every global option with its description', () => {
    const r = kms(['--help'], { home });
    expect(r.code, show(r)).toBe(0);
    const text = squash(r.stdout);
    for (const c of VISIBLE.filter((c) => !c.parent)) {
      expect(text, c.name).toMatch(new RegExp(`\\b${c.name}\\b`));
      expect(text, c.name).toContain(squash(c.summary));
    }
    for (const o of GLOBAL_OPTIONS) expect(text, o.flags).toContain(squash(`${o.flags} ${o.description}`));
    expect(kms(['help'], { home }).stdout).toBe(r.stdout);
  });

  it('subcommands are listed in their parent\'s help', () => {
    for (const c of VISIBLE.filter((c) => c.parent)) {
      const parent = helpOf.get(c.parent!)!;
      expect(squash(parent.stdout), pathOf(c)).toContain(squash(c.summary));
    }
  });

  it('help for an unknown command is a usage error suggesting the nearest one', () => {
    const line = failsPlain(kms(['help', 'rotat'], { home }), 64);
    expect(line).toContain('Did you mean rotate?');
  });

  it('no command at all is a usage error naming the commands, not a silent exit 0', () => {
    const line = failsPlain(kms([], { home }), 64);
    expect(line).toContain('wrap');
  });
});

describe('a usage error points at the help of the command that was typed', () => {
  it.each([
    [['wrap'], "missing required argument 'key'", 'kmsctl wrap --help'],
    [['audit', 'verify', '--bogus'], "unknown option '--bogus'", 'kmsctl audit verify --help'],
    [['policy', 'validate'], "missing required argument 'files'", 'kmsctl policy validate --help'],
    [['nosuch'], "unknown command 'nosuch'", 'kmsctl --help'],
  ])('kmsctl %j', (args, what, help) => {
    const r = kms(args as string[], { home });
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`kmsctl: ${what} (see ${help})\n`);
  });
});
