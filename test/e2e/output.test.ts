// Colour and --quiet, through the built binary: at a terminal states and errors are in colour, and
// NO_COLOR or --no-color (before or after the command) turn every escape code off; piped output has none;
// --quiet prints nothing at all on success, at a terminal or piped, while a failure still says why.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule } from '../helpers/cli.js';
import { kj, ok } from '../helpers/e2e.js';
import { ptyKms } from '../helpers/pty.js';

const ESC = /\x1b\[/;

let home: string;
let msg: string;

beforeAll(() => {
  softHsmModule();
  home = initHome();
  ok(kj(['create', 'payments', '--spec', 'aes-256'], { home }));
  ok(kj(['create', 'paused', '--spec', 'aes-256'], { home }));
  ok(kj(['disable', 'paused'], { home }));
  msg = join(home, 'dek.bin');
  writeFileSync(msg, randomBytes(32));
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('colour', () => {
  it('at a terminal, states and the error prefix are in colour', () => {
    const list = ptyKms(['list'], { home });
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/\x1b\[32menabled/);
    expect(list.output).toMatch(/\x1b\[33mdisabled/);
    const err = ptyKms(['show', 'nope'], { home });
    expect(err.code).toBe(66);
    expect(err.output).toMatch(/\x1b\[31mkmsctl:/);
  });

  const off: Array<[string, (args: string[]) => string[], Record<string, string>]> = [
    ['NO_COLOR=1', (a) => a, { NO_COLOR: '1' }],
    ['--no-color after the command', (a) => [...a, '--no-color'], {}],
    ['--no-color before the command', (a) => ['--no-color', ...a], {}],
  ];

  it.each(off)('%s: no escape code at a terminal', (_name, place, env) => {
    for (const [args, code] of [[['list'], 0], [['show', 'payments'], 0], [['show', 'nope'], 66], [['audit', '--limit', '3'], 0]] as Array<[string[], number]>) {
      const r = ptyKms(place(args), { home, env });
      expect(r.code, `${args.join(' ')}\n${r.text}`).toBe(code);
      expect(r.output, args.join(' ')).not.toMatch(ESC);
      expect(r.text.length).toBeGreaterThan(0);
    }
  });

  it('piped, without NO_COLOR: no escape code', () => {
    for (const args of [['list'], ['show', 'payments'], ['show', 'nope']]) {
      const r = kms(args, { home, env: { NO_COLOR: undefined, CI: undefined, TERM: 'xterm-256color' } });
      expect(r.stdout + r.stderr, args.join(' ')).not.toMatch(ESC);
    }
  });
});

describe('--quiet', () => {
  const commands = (): string[][] => [
    ['init'],
    ['create', 'quiet-key', '--spec', 'aes-256'],
    ['list'],
    ['show', 'payments'],
    ['rotate', 'quiet-key'],
    ['wrap', 'payments', '--in', msg],
    ['datakey', 'payments'],
    ['disable', 'quiet-key'],
    ['enable', 'quiet-key'],
    ['doctor'],
    ['audit', '--limit', '5'],
    ['audit', 'verify'],
    ['report'],
    ['completion', 'bash'],
  ];

  it('piped: every success prints nothing on stdout or stderr', () => {
    for (const args of commands()) {
      for (const q of ['--quiet', '-q']) {
        if (args[0] === 'create' && q === '-q') continue;
        const r = kms([...args, q], { home });
        expect(r.code, `${args.join(' ')} ${q}: ${r.stderr}`).toBe(0);
        expect(r.stdout, `${args.join(' ')} ${q}`).toBe('');
        expect(r.stderr, `${args.join(' ')} ${q}`).toBe('');
      }
    }
  });

  it('at a terminal: a success shows nothing at all', () => {
    for (const args of [['list'], ['show', 'payments'], ['wrap', 'payments', '--in', msg], ['doctor']]) {
      const r = ptyKms([...args, '--quiet'], { home });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.output, args.join(' ')).toBe('');
    }
  });

  it('a failure still says why, on stderr, with its exit code', () => {
    const r = kms(['show', 'nope', '--quiet'], { home });
    expect(r.code).toBe(66);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^kmsctl: .*nope/);
  });
});
