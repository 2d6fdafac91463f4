import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { lstatSync, readFileSync, symlinkSync, writeFileSync, readlinkSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kms, initHome, removeDir } from '../helpers/cli.js';

describe('--out targets', () => {
  let home: string;
  const dek = randomBytes(32);
  beforeAll(() => {
    home = initHome();
    expect(kms(['create', 'k', '--spec', 'aes-256'], { home }).code).toBe(0);
    writeFileSync(join(home, 'dek.bin'), dek);
    expect(kms(['wrap', 'k', '--in', 'dek.bin', '--out', 'dek.wrapped'], { home }).code).toBe(0);
  });
  afterAll(() => removeDir(home));

  it('a regular file is replaced atomically and holds the result', () => {
    const r = kms(['unwrap', '--in', 'dek.wrapped', '--out', 'plain.bin'], { home });
    expect(r.code).toBe(0);
    expect(readFileSync(join(home, 'plain.bin')).equals(dek)).toBe(true);
    expect(lstatSync(join(home, 'plain.bin')).mode & 0o777).toBe(0o600);
  });

  it('/dev/null stays the character device it is', () => {
    const r = kms(['unwrap', '--in', 'dek.wrapped', '--out', '/dev/null'], { home });
    expect(r.code).toBe(0);
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('--out - writes the result to stdout', () => {
    const r = kms(['unwrap', '--in', 'dek.wrapped', '--out', '-'], { home });
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(dek)).toBe(true);
  });

  it('a symlink is written through and stays a symlink', () => {
    writeFileSync(join(home, 'target.bin'), 'old');
    symlinkSync(join(home, 'target.bin'), join(home, 'link.bin'));
    expect(kms(['unwrap', '--in', 'dek.wrapped', '--out', 'link.bin'], { home }).code).toBe(0);
    expect(lstatSync(join(home, 'link.bin')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(home, 'link.bin'))).toBe(join(home, 'target.bin'));
    expect(readFileSync(join(home, 'target.bin')).equals(dek)).toBe(true);
  });

  it('a FIFO is written into, not replaced', async () => {
    const fifo = join(home, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise<number>((res) => reader.on('close', (code) => res(code ?? -1)));
    expect(kms(['unwrap', '--in', 'dek.wrapped', '--out', fifo], { home }).code).toBe(0);
    expect(await done).toBe(0);
    expect(Buffer.concat(chunks).equals(dek)).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('a directory is refused with a usage error', () => {
    const r = kms(['unwrap', '--in', 'dek.wrapped', '--out', home, '--json'], { home });
    expect(r.code).toBe(64);
    expect(r.json.error.message).toContain('is a directory');
  });
});
