// Prompts at a terminal, driven through a pseudo-terminal against the built binary and a real SoftHSM
// token: the PIN prompt hides what is typed, a wrong alias at a destructive confirmation cancels with
// nothing changed, Ctrl-C at a prompt or in the middle of a batch exits 130 leaving nothing for doctor to
// find, and with --no-input, CI or --json there is no prompt at all: exit 64 naming what to use instead.

import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule } from '../helpers/cli.js';
import { auditCount, kj, ledgerQuery, ledgerRows, ok, tokenSnapshot } from '../helpers/e2e.js';
import { ptyKms, type PtyRun } from '../helpers/pty.js';

let home: string;
let pin: string;
let msg: string;

const away = () => join(home, 'user.pin.away');
const show = (r: PtyRun) => `exit ${r.code}${r.missed ? ` (never saw ${r.missed})` : ''}\n${r.text.slice(-2000)}`;

/** The state a cancelled command must leave exactly as it was. */
function snapshot() {
  // pkcs11-tool reads the PIN from the embedded pin file: put it back just for the look.
  renameSync(away(), join(home, 'softhsm', 'user.pin'));
  try {
    return { rows: ledgerRows(home), token: tokenSnapshot(home) };
  } finally {
    renameSync(join(home, 'softhsm', 'user.pin'), away());
  }
}

/** Doctor, run with the PIN from the environment, finds nothing and no operation is left half-done. */
function doctorClean(): void {
  const d = ok(kj(['doctor'], { home, env: { KMSCTL_PIN: pin } }));
  expect(d.findings).toEqual([]);
  expect(ledgerRows(home).intents).toBe(0);
  ok(kj(['audit', 'verify'], { home, env: { KMSCTL_PIN: pin } }));
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  for (const [alias, spec] of [['payments', 'aes-256'], ['keepme', 'aes-256'], ['goner', 'aes-256'], ['bulk', 'aes-256']]) ok(kj(['create', alias, '--spec', spec], { home }));
  msg = join(home, 'dek.bin');
  writeFileSync(msg, randomBytes(32));
  // From here on only the operator knows the PIN: no KMSCTL_PIN, no --pin-file, no embedded pin file.
  pin = readFileSync(join(home, 'softhsm', 'user.pin'), 'utf8').split('\n')[0];
  renameSync(join(home, 'softhsm', 'user.pin'), away());
  expect(pin.length).toBeGreaterThan(8);
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('the PIN prompt', () => {
  it('asks on stderr, hides what is typed, and the command goes on with the typed PIN', () => {
    const out = join(home, 'blob.txt');
    const r = ptyKms(['wrap', 'payments', '--in', msg], { home, stdout: out, steps: [{ expect: 'PIN', send: `${pin}\r` }] });
    expect(r.code, show(r)).toBe(0);
    expect(r.missed).toBeNull();
    expect(r.text).toContain('Token user PIN');
    expect(r.output, 'the typed PIN must never be shown').not.toContain(pin);
    expect(r.output).not.toContain(pin.slice(0, 6));
    // stdout holds the result only: the prompt went to the terminal on stderr.
    const blob = readFileSync(out, 'utf8');
    expect(blob).toMatch(/^kmsctl:v1:[A-Za-z0-9_-]+\n$/);
    const back = kms(['unwrap', '--json'], { home, input: blob, env: { KMSCTL_PIN: pin } });
    expect(Buffer.from(ok(back).plaintext, 'base64').equals(readFileSync(msg))).toBe(true);
  });

  it('a wrong typed PIN is refused (77) and not shown either', () => {
    const wrong = `x${pin.slice(1)}Q`;
    const r = ptyKms(['wrap', 'payments', '--in', msg], { home, steps: [{ expect: 'PIN', send: `${wrong}\r` }] });
    expect(r.code, show(r)).toBe(77);
    expect(r.output).not.toContain(wrong);
    expect(r.output).not.toContain(pin);
  });

  it('Ctrl-C at the PIN prompt exits 130; nothing is left for doctor', () => {
    const before = { rows: ledgerRows(home), audit: auditCount(home) };
    const r = ptyKms(['rotate', 'keepme'], { home, steps: [{ expect: 'PIN', send: `${pin.slice(0, 4)}\x03` }] });
    expect(r.code, show(r)).toBe(130);
    expect(r.text).toMatch(/cancel/);
    expect(r.output).not.toContain(pin.slice(0, 4));
    expect(ledgerRows(home)).toEqual(before.rows);
    doctorClean();
  });
});

describe('typing the alias to confirm a destructive command', () => {
  it('a wrong alias cancels: exit 130, the key untouched on the ledger and the token', () => {
    const before = snapshot();
    const r = ptyKms(['delete', 'keepme'], { home, env: { KMSCTL_PIN: pin }, steps: [{ expect: 'Type keepme to confirm', send: 'keepm\r' }] });
    expect(r.code, show(r)).toBe(130);
    expect(r.text).toContain('About to schedule key keepme for deletion');
    expect(r.text).toContain('nothing was changed');
    expect(snapshot()).toEqual(before);
    expect(ok(kj(['show', 'keepme'], { home, env: { KMSCTL_PIN: pin } })).key.state).toBe('enabled');
  });

  it('Ctrl-C at the confirmation exits 130 with the key untouched; doctor finds nothing', () => {
    const before = snapshot();
    const r = ptyKms(['delete', 'keepme'], { home, env: { KMSCTL_PIN: pin }, steps: [{ expect: 'Type keepme to confirm', send: 'kee\x03' }] });
    expect(r.code, show(r)).toBe(130);
    expect(snapshot()).toEqual(before);
    doctorClean();
  });

  it('the right alias goes ahead', () => {
    const r = ptyKms(['delete', 'goner'], { home, env: { KMSCTL_PIN: pin }, steps: [{ expect: 'Type goner to confirm', send: 'goner\r' }] });
    expect(r.code, show(r)).toBe(0);
    expect(ok(kj(['show', 'goner'], { home, env: { KMSCTL_PIN: pin } })).key.state).toBe('pending-deletion');
  });
});

describe('no prompt with --no-input, CI or --json, even at a terminal', () => {
  const cases: Array<[string, string[], Record<string, string>]> = [
    ['--no-input', ['--no-input'], {}],
    ['--no-input before the command', [], {}],
    ['CI=1', [], { CI: '1' }],
    ['CI=true', [], { CI: 'true' }],
  ];

  it.each(cases)('%s: a missing PIN is 64 naming KMSCTL_PIN and --pin-file', (name, extra, env) => {
    const args = name.endsWith('before the command') ? ['--no-input', 'wrap', 'payments', '--in', msg] : ['wrap', 'payments', '--in', msg, ...extra];
    const r = ptyKms(args, { home, env, timeout: 20 });
    expect(r.code, show(r)).toBe(64);
    expect(r.text).not.toContain('Token user PIN');
    expect(r.text).toContain('KMSCTL_PIN');
    expect(r.text).toContain('--pin-file');
  });

  it.each(cases)('%s: delete without --yes is 64 naming --yes, and deletes nothing', (name, extra, env) => {
    const before = snapshot();
    const args = name.endsWith('before the command') ? ['--no-input', 'delete', 'keepme'] : ['delete', 'keepme', ...extra];
    const r = ptyKms(args, { home, env: { KMSCTL_PIN: pin, ...env }, timeout: 20 });
    expect(r.code, show(r)).toBe(64);
    expect(r.text).not.toContain('to confirm:');
    expect(r.text).toContain('--yes');
    expect(snapshot()).toEqual(before);
  });

  it('--json at a terminal: one JSON document, 64 naming KMSCTL_PIN and --pin-file, no prompt, no colour', () => {
    const out = join(home, 'json.out');
    const r = ptyKms(['wrap', 'payments', '--in', msg, '--json'], { home, stdout: out, timeout: 20 });
    expect(r.code, show(r)).toBe(64);
    expect(r.output).toBe('');
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.ok).toBe(false);
    expect(doc.error.exitCode).toBe(64);
    expect(doc.error.message).toContain('KMSCTL_PIN');
    expect(doc.error.message).toContain('--pin-file');
  });
});

describe('Ctrl-C in the middle of a batch', () => {
  it('exits 130 between two items: every printed result is audited, and doctor and audit verify find nothing', () => {
    const lines = Array.from({ length: 150_000 }, (_, i) => JSON.stringify({ plaintext: randomBytes(16).toString('base64'), context: { n: String(i) } })).join('\n');
    const input = join(home, 'many.jsonl');
    const out = join(home, 'many.out');
    writeFileSync(input, `${lines}\n`);
    const before = ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = 'wrap'").get() as { n: number }).n);
    // The progress bar shows after a second at a terminal: that is the moment to interrupt.
    const r = ptyKms(['wrap', 'bulk', '--batch'], { home, env: { KMSCTL_PIN: pin }, stdin: input, stdout: out, steps: [{ expect: 'items', send: '\x03' }] });
    expect(r.code, show(r)).toBe(130);
    const printed = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(printed.length).toBeGreaterThan(0);
    expect(printed.length, 'stopped before the end').toBeLessThan(150_000);
    expect(printed.every((p, i) => p.ok === true && p.line === i + 1)).toBe(true);
    const audited = ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = 'wrap' AND json_extract(details, '$.batch') = 1").get() as { n: number }).n);
    const opened = ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = 'wrap'").get() as { n: number }).n) - before - audited;
    expect(audited, 'every printed result has its audit record, and nothing unprinted was done').toBe(printed.length);
    expect(opened).toBe(1);
    expect(r.text).toContain(`after line ${printed.length}`);
    doctorClean();
  });

  it('exits 130 at once while waiting for the next line, with the lines before it done and audited', () => {
    const fifo = join(home, 'slow.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const line = JSON.stringify({ plaintext: randomBytes(16).toString('base64') });
    // One line, then a writer that keeps the pipe open and says nothing more.
    const writer = spawn('sh', ['-c', 'exec > "$2"; printf "%s\\n" "$1"; exec sleep 60', 'sh', line, fifo], { stdio: 'ignore' });
    const out = join(home, 'slow.out');
    const before = ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = 'wrap' AND json_extract(details, '$.batch') = 1").get() as { n: number }).n);
    const started = Date.now();
    const r = ptyKms(['wrap', 'bulk', '--batch'], { home, env: { KMSCTL_PIN: pin }, stdin: fifo, stdout: out, steps: [{ expect: '', send: '\x03', pause: 1.5 }], timeout: 20 });
    writer.kill();
    expect(r.code, show(r)).toBe(130);
    expect(Date.now() - started).toBeLessThan(10_000);
    const printed = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(printed.map((p) => [p.line, p.ok])).toEqual([[1, true]]);
    const after = ledgerQuery(home, (db) => (db.prepare("SELECT COUNT(*) AS n FROM audit WHERE command = 'wrap' AND json_extract(details, '$.batch') = 1").get() as { n: number }).n);
    expect(after - before).toBe(1);
    doctorClean();
  });
});
