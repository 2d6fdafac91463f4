import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'kmsctl');
export const VECTORS = resolve(ROOT, '..', 'shared', 'vectors', 'wycheproof');

const SOFTHSM = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];

/** The tests need a real SoftHSM: its absence is a failure, never a skip. */
export function softHsmModule(): string {
  const found = SOFTHSM.find((p) => existsSync(p));
  if (!found) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2): the token tests cannot run');
  return found;
}

export function requireBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'entry.js'))) throw new Error('kmsctl is not built: run npm run build (npm test does it first)');
}

export function tempDir(prefix = 'kmsctl-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
  /** stdout parsed as one JSON document, when it is one. */
  json: any;
}

export interface RunOptions {
  home: string;
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Runs the built kmsctl as a user would, with a clean environment: no TTY, CI set, no colour. */
export function kms(args: string[], o: RunOptions): RunResult {
  requireBuilt();
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, KMSCTL_HOME: o.home, CI: '1', NO_COLOR: '1', LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const opts: SpawnSyncOptions = { env, cwd: o.cwd ?? o.home, input: o.input, maxBuffer: 256 * 1024 * 1024 };
  const r = spawnSync(process.execPath, [BIN, ...args], opts);
  if (r.error) throw r.error;
  const stdoutBytes = r.stdout as Buffer;
  const stdout = stdoutBytes.toString('utf8');
  let json: any;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status ?? (r.signal ? 128 : -1), stdout, stdoutBytes, stderr: (r.stderr as Buffer).toString('utf8'), json };
}

/** A fresh KMSCTL_HOME with the embedded SoftHSM token made by `kmsctl init`. */
export function initHome(): string {
  softHsmModule();
  const home = tempDir();
  const r = kms(['init', '--json'], { home });
  if (r.code !== 0) throw new Error(`kmsctl init failed (${r.code}): ${r.stderr}${r.stdout}`);
  return home;
}
