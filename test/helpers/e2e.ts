// Assertions and probes shared by the end-to-end and integration tests: the --json contract, one-line
// errors, an independent reading of the blob header, the token as pkcs11-tool sees it, and ledger.db
// as SQLite sees it. Nothing here imports src/: these are the outside view of kmsctl.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { BIN, kms, requireBuilt, softHsmModule, type RunOptions, type RunResult } from './cli.js';

export const SPECS = ['aes-256', 'hmac-sha256', 'ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type Spec = (typeof SPECS)[number];
export const SIGN_SPECS = ['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;

const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;

/** stdout holds exactly one JSON document (one line, newline-terminated) and it is an object. */
export function oneJson(r: RunResult): any {
  expect(r.stdout.endsWith('\n'), `stdout must end with one newline\n${show(r)}`).toBe(true);
  const body = r.stdout.slice(0, -1);
  expect(body.includes('\n'), `stdout must be one line\n${show(r)}`).toBe(false);
  let doc: unknown;
  expect(() => (doc = JSON.parse(body)), `stdout must be JSON\n${show(r)}`).not.toThrow();
  expect(doc !== null && typeof doc === 'object' && !Array.isArray(doc), show(r)).toBe(true);
  return doc;
}

/** A --json success: exit 0 and {"ok":true,...}. */
export function ok(r: RunResult): any {
  expect(r.code, show(r)).toBe(0);
  const doc = oneJson(r);
  expect(doc.ok, show(r)).toBe(true);
  return doc;
}

export interface JsonError {
  code: string;
  message: string;
  exitCode: number;
  reason?: string;
  hint?: string;
}

/** A --json failure: the exit code, one {"ok":false,"error":{code,message,exitCode}} document, no stack. */
export function fails(r: RunResult, exitCode: number, code?: string): JsonError {
  expect(r.code, show(r)).toBe(exitCode);
  const doc = oneJson(r);
  expect(Object.keys(doc).sort(), show(r)).toEqual(['error', 'ok']);
  expect(doc.ok).toBe(false);
  const e = doc.error as JsonError;
  expect(e.exitCode, show(r)).toBe(r.code);
  expect(typeof e.code).toBe('string');
  expect(typeof e.message).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  if (code !== undefined) expect(e.code, show(r)).toBe(code);
  expect(r.stdout + r.stderr).not.toContain('    at ');
  return e;
}

/** A failure for people (no --json): the exit code, nothing on stdout, exactly one line on stderr, no stack trace. */
export function failsPlain(r: RunResult, exitCode: number): string {
  expect(r.code, show(r)).toBe(exitCode);
  expect(r.stdout, show(r)).toBe('');
  expect(r.stderr.endsWith('\n'), show(r)).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines, show(r)).toHaveLength(1);
  expect(lines[0]).toMatch(/^kmsctl: \S/);
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr).not.toMatch(/\bError:|TypeError|RangeError/);
  return lines[0];
}

/** Like kms(), without blocking: the same clean environment, for running a few kmsctl processes at once. */
export function kmsAsync(args: string[], o: RunOptions): Promise<RunResult> {
  requireBuilt();
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, KMSCTL_HOME: o.home, CI: '1', NO_COLOR: '1', LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: o.cwd ?? o.home, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stdoutBytes, stderr: Buffer.concat(err).toString('utf8'), json });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** Runs fn over items with at most `limit` at a time; results in item order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Runs with --json appended. */
export function kj(args: string[], o: RunOptions): RunResult {
  return kms([...args, '--json'], o);
}

// ---------------------------------------------------------------------------------------------------
// Blobs, read from docs/blob-format.md with no help from src/envelope.

export const TEXT_PREFIX = 'kmsctl:v1:';

export interface BlobParts {
  bytes: Buffer;
  keyId: string;
  keyVersion: number;
  iv: Buffer;
  fingerprint: Buffer;
  ciphertextLength: number;
  ciphertext: Buffer;
  /** Offsets of each field in bytes. */
  at: { keyId: number; keyVersion: number; ivLength: number; iv: number; fingerprint: number; n: number; ciphertext: number; tag: number };
}

export function blobBytes(textOrBinary: string | Buffer): Buffer {
  if (Buffer.isBuffer(textOrBinary)) return textOrBinary;
  const t = textOrBinary.trim();
  expect(t.startsWith(TEXT_PREFIX), `not a text blob: ${t.slice(0, 40)}`).toBe(true);
  const body = t.slice(TEXT_PREFIX.length);
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
  return Buffer.from(body, 'base64url');
}

export function toText(bin: Buffer): string {
  return TEXT_PREFIX + bin.toString('base64url');
}

export function parseBlob(textOrBinary: string | Buffer): BlobParts {
  const b = blobBytes(textOrBinary);
  expect(b.subarray(0, 4).toString('latin1')).toBe('KMSW');
  expect(b[4]).toBe(1);
  expect(b[5]).toBe(1);
  const L = b[6];
  const at = { keyId: 7, keyVersion: 7 + L, ivLength: 11 + L, iv: 12 + L, fingerprint: 24 + L, n: 32 + L, ciphertext: 36 + L, tag: 0 };
  expect(b[at.ivLength]).toBe(12);
  const n = b.readUInt32BE(at.n);
  expect(b.length).toBe(36 + L + n);
  at.tag = b.length - 16;
  return {
    bytes: b,
    keyId: b.subarray(7, 7 + L).toString('ascii'),
    keyVersion: b.readUInt32BE(at.keyVersion),
    iv: b.subarray(at.iv, at.iv + 12),
    fingerprint: b.subarray(at.fingerprint, at.fingerprint + 8),
    ciphertextLength: n,
    ciphertext: b.subarray(at.ciphertext),
    at,
  };
}

export function flipBit(b: Buffer, byteAt: number, bit = 0): Buffer {
  const c = Buffer.from(b);
  c[byteAt] ^= 1 << bit;
  return c;
}

// ---------------------------------------------------------------------------------------------------
// The embedded token seen from outside: pkcs11-tool, with the home's own SoftHSM configuration.

export function userPin(home: string): string {
  return readFileSync(join(home, 'softhsm', 'user.pin'), 'utf8').split('\n')[0];
}

export function softhsmEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, SOFTHSM2_CONF: join(home, 'softhsm', 'softhsm2.conf') };
}

export interface TokenObject {
  cls: 'private' | 'public' | 'secret';
  type: string;
  label: string;
  id: string;
  usage: string[];
  access: string[];
  /** Public EC and EdDSA keys: CKA_EC_POINT in hex, as pkcs11-tool prints it (a DER OCTET STRING). */
  ecPoint?: string;
}

export function pkcs11Tool(home: string, args: string[], input?: Buffer): { code: number; stdout: Buffer; stderr: string } {
  const r = spawnSync('pkcs11-tool', ['--module', softHsmModule(), '--login', '--pin', userPin(home), ...args], { env: softhsmEnv(home), input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** `pkcs11-tool --list-objects`, parsed into key objects (class, label, CKA_ID hex, Usage, Access). */
export function tokenObjects(home: string): TokenObject[] {
  const r = pkcs11Tool(home, ['--list-objects']);
  expect(r.code, r.stderr).toBe(0);
  const out: TokenObject[] = [];
  let cur: TokenObject | null = null;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const head = /^(Private|Public|Secret) Key Object;\s*(.*)$/.exec(line);
    if (head) {
      cur = { cls: head[1].toLowerCase() as TokenObject['cls'], type: head[2].trim(), label: '', id: '', usage: [], access: [] };
      out.push(cur);
      continue;
    }
    if (/^\S/.test(line)) {
      cur = null; // another kind of object (data, certificate): not ours to parse
      continue;
    }
    const field = /^\s+(label|ID|Usage|Access|EC_POINT):\s*(.*)$/.exec(line);
    if (!cur || !field) continue;
    const value = field[2].trim();
    if (field[1] === 'label') cur.label = value;
    else if (field[1] === 'ID') cur.id = value.toLowerCase();
    else if (field[1] === 'EC_POINT') cur.ecPoint = value.toLowerCase();
    else if (field[1] === 'Usage') cur.usage = value === 'none' ? [] : value.split(',').map((s) => s.trim());
    else cur.access = value.split(',').map((s) => s.trim()).filter(Boolean);
  }
  return out;
}

/** A stable fingerprint of every key object on the token, for "nothing changed" checks. */
export function tokenSnapshot(home: string): string[] {
  return tokenObjects(home).map((o) => `${o.cls} ${o.id} ${o.label}`).sort();
}

// ---------------------------------------------------------------------------------------------------
// ledger.db read directly (read-only), for what the CLI does not print: intents, raw counts.

export function ledgerQuery<T>(home: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(home, 'ledger.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function auditCount(home: string): number {
  return ledgerQuery(home, (db) => (db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n);
}

export interface LedgerRows {
  keys: Array<{ id: string; alias: string; state: string; primary_version: number }>;
  versions: Array<{ key_id: string; version: number; state: string; cka_id: string; use_count: number }>;
  intents: number;
}

export function ledgerRows(home: string): LedgerRows {
  return ledgerQuery(home, (db) => ({
    keys: db.prepare('SELECT id, alias, state, primary_version FROM keys ORDER BY id').all() as LedgerRows['keys'],
    versions: (db.prepare('SELECT key_id, version, state, hex(cka_id) AS cka_id, use_count FROM versions ORDER BY key_id, version').all() as LedgerRows['versions']).map((v) => ({ ...v, cka_id: v.cka_id.toLowerCase() })),
    intents: (db.prepare('SELECT COUNT(*) AS n FROM intents').get() as { n: number }).n,
  }));
}

/** The bytes of ledger.db and, when present, its WAL and shared-memory files. */
export function ledgerFileBytes(home: string): Buffer {
  const parts = ['ledger.db', 'ledger.db-wal', 'ledger.db-shm'].map((f) => join(home, f)).filter((p) => existsSync(p));
  return Buffer.concat(parts.map((p) => readFileSync(p)));
}
