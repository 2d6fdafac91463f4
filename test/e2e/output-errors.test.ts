import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, initHome, kms, removeDir } from '../helpers/cli.js';
import { sqlite } from '../helpers/audit.js';

// Output that cannot be written (a full disk, here /dev/full) is lost: kmsctl says so in one line on
// stderr and exits 74 (sysexits' EX_IOERR), never a stack trace; a batch stops there. Also: audit
// export --out - writes the records to stdout, and show/list word a tombstone and an overdue deletion.

let home: string;

/** kmsctl with its stdout sent where the shell says (`> /dev/full`). */
function redirected(args: string[], to: string): { code: number; stderr: string } {
  const cmd = `exec "${process.execPath}" "${BIN}" ${args.map((a) => `'${a}'`).join(' ')} > ${to}`;
  const r = spawnSync('sh', ['-c', cmd], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KMSCTL_HOME: home, CI: '1', NO_COLOR: '1' }, cwd: home, encoding: 'utf8' });
  return { code: r.status ?? -1, stderr: r.stderr };
}

function oneLine(stderr: string): string {
  expect(stderr).not.toContain('    at ');
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0];
}

beforeAll(() => {
  home = initHome();
  expect(kms(['create', 'out-w', '--spec', 'aes-256'], { home }).code).toBe(0);
  writeFileSync(join(home, 'dek'), Buffer.alloc(32, 9));
});

afterAll(() => removeDir(home));

describe('stdout on a full disk', () => {
  it('wrap: exit 74 and one line saying the output is lost', () => {
    const r = redirected(['wrap', 'out-w', '--in', join(home, 'dek')], '/dev/full');
    expect(r.code).toBe(74);
    expect(oneLine(r.stderr)).toBe('kmsctl: cannot write the output (ENOSPC): it is lost');
  });

  it('list --json: exit 74, the line on stderr since the document cannot be delivered', () => {
    const r = redirected(['list', '--json'], '/dev/full');
    expect(r.code).toBe(74);
    expect(oneLine(r.stderr)).toContain('cannot write the output (ENOSPC)');
  });

  it('a datakey batch stops at the failed write: exit 74, and far fewer keys made than asked', () => {
    const before = Number(sqlite(home, "SELECT count(*) FROM audit WHERE command = 'datakey'").trim());
    for (const json of [[], ['--json']]) {
      const r = redirected(['datakey', 'out-w', '--count', '20000', ...json], '/dev/full');
      expect(r.code).toBe(74);
      expect(oneLine(r.stderr)).toMatch(/^kmsctl: cannot write the results to stdout \(ENOSPC\) after line \d+: stopped; \d+ done and audited/);
    }
    const made = Number(sqlite(home, "SELECT count(*) FROM audit WHERE command = 'datakey'").trim()) - before;
    expect(made).toBeGreaterThan(0);
    expect(made).toBeLessThan(10_000);
  });

  it('--out /dev/full: exit 74 naming the path', () => {
    const r = kms(['wrap', 'out-w', '--in', join(home, 'dek'), '--out', '/dev/full'], { home });
    expect(r.code).toBe(74);
    expect(oneLine(r.stderr)).toBe('kmsctl: cannot write /dev/full (ENOSPC)');
    expect(kms(['audit', 'export', '--out', '/dev/full'], { home }).code).toBe(74);
  });
});

describe('audit export --out -', () => {
  it('writes the same JSON Lines to stdout as to a file, the summary on stderr, and no file named -', () => {
    expect(kms(['audit', 'export', '--out', join(home, 'all.jsonl')], { home }).code).toBe(0);
    const file = readFileSync(join(home, 'all.jsonl'), 'utf8').trim().split('\n');
    const r = kms(['audit', 'export', '--out', '-'], { home });
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    // The first export was itself audited after it was written, so stdout has at least its lines.
    expect(out.slice(0, file.length)).toEqual(file);
    expect(out.every((l) => JSON.parse(l).schema === 'kmsctl.audit.v1')).toBe(true);
    expect(r.stderr).toMatch(/^exported \d+ records \(seq 1\.\.\d+\) to stdout\n$/);
    expect(existsSync(join(home, '-'))).toBe(false);
  });

  it('with --json is a usage error: stdout cannot hold both', () => {
    const r = kms(['audit', 'export', '--out', '-', '--json'], { home });
    expect(r.code).toBe(64);
    expect(r.json.error.message).toContain('--out -');
  });
});

describe('deletion wording', () => {
  it('show of a destroyed key says destroyed, with no days left and no restore', () => {
    expect(kms(['create', 'gone', '--spec', 'aes-256'], { home }).code).toBe(0);
    expect(kms(['delete', 'gone', '--yes', '--force'], { home }).code).toBe(0);
    sqlite(home, "UPDATE keys SET destroy_after = '2026-01-01T00:00:00.000Z' WHERE alias = 'gone'");
    const overdue = kms(['show', 'gone'], { home });
    expect(overdue.stdout).toContain('pending deletion: its window ended 2026-01-01T00:00:00.000Z; kmsctl purge destroys it, and restore can no longer undo it');
    expect(kms(['list'], { home }).stdout).toMatch(/gone .*2026-01-01 \(due for purge\)/);
    expect(kms(['purge', '--yes'], { home }).code).toBe(0);
    const text = kms(['show', 'gone'], { home }).stdout;
    expect(text).toContain('destroyed: its deletion window ended 2026-01-01T00:00:00.000Z; the tombstone keeps its alias and history');
    expect(text).not.toContain('restore');
    expect(text).not.toContain('days left');
    expect(kms(['show', 'gone', '--json'], { home }).json.key).toMatchObject({ state: 'destroyed', daysLeft: null });
  });
});
