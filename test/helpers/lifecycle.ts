// The outside view the lifecycle, kill, doctor and concurrency tests share: kmsctl run as a process
// (signal included, sync or async), ledger.db read with better-sqlite3 and edited with the sqlite3 CLI,
// and the token seen and changed by "someone else" (pkcs11-tool, or a pkcs11js script in its own
// process). Nothing here imports src/.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { BIN, ROOT, requireBuilt, softHsmModule } from './cli.js';

export interface Run {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is one document. */
  json: any;
}

export interface RunOpts {
  env?: Record<string, string>;
  input?: string | Buffer;
}

function childEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KMSCTL_HOME: home, CI: '1', NO_COLOR: '1', LANG: 'C.UTF-8', ...extra };
}

function parsed(args: string[], code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): Run {
  let json: any;
  try {
    json = JSON.parse(stdout);
  } catch {
    json = undefined;
  }
  return { args, code, signal, stdout, stderr, json };
}

export const describeRun = (r: Run) => `kmsctl ${r.args.join(' ')}\nexit ${r.code} signal ${r.signal}\nstdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;

/** The built kmsctl, as CI runs it: no TTY, CI=1, its own KMSCTL_HOME. */
export function cli(home: string, args: string[], o: RunOpts = {}): Run {
  requireBuilt();
  const r = spawnSync(process.execPath, [BIN, ...args], { env: childEnv(home, o.env), cwd: home, input: o.input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return parsed(args, r.status, r.signal, r.stdout.toString('utf8'), r.stderr.toString('utf8'));
}

/** The same, as a child process that runs alongside others (for the concurrency test). */
export function cliAsync(home: string, args: string[], o: RunOpts = {}): Promise<Run> {
  requireBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(home, o.env), cwd: home, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(parsed(args, code, signal, Buffer.concat(out).toString('utf8'), Buffer.concat(err).toString('utf8'))));
    child.stdin.end(o.input ?? '');
  });
}

/** kmsctl ARGS --json. */
export function cj(home: string, args: string[], o: RunOpts = {}): Run {
  return cli(home, [...args, '--json'], o);
}

/** Exit 0 with one {"ok":true,...} document; returns it. */
export function ok(r: Run): any {
  expect(r.code, describeRun(r)).toBe(0);
  expect(r.json?.ok, describeRun(r)).toBe(true);
  expect(r.stdout.trimEnd().includes('\n'), describeRun(r)).toBe(false);
  return r.json;
}

export interface JsonError {
  code: string;
  message: string;
  exitCode: number;
  reason?: string;
  hint?: string;
}

/** A --json failure with this exit code (and reason, when given); no stack trace anywhere. */
export function fails(r: Run, exitCode: number, reason?: string): JsonError {
  expect(r.code, describeRun(r)).toBe(exitCode);
  expect(r.json?.ok, describeRun(r)).toBe(false);
  const e = r.json.error as JsonError;
  expect(e.exitCode, describeRun(r)).toBe(exitCode);
  expect(typeof e.message).toBe('string');
  if (reason !== undefined) expect(e.reason, describeRun(r)).toBe(reason);
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  return e;
}

/** The process was killed with SIGKILL (a test fault point) before it could print a result. */
export function killed(r: Run): void {
  expect(r.signal, describeRun(r)).toBe('SIGKILL');
  expect(r.code, describeRun(r)).toBe(null);
  expect(r.stdout, describeRun(r)).toBe('');
}

// ---------------------------------------------------------------------------------------------------
// ledger.db

export function readLedger<T>(home: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(home, 'ledger.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** An edit with the sqlite3 CLI, as an operator (or a test moving a deadline) would make it. */
export function sqlite(home: string, statement: string): void {
  const r = spawnSync('sqlite3', ['-bail', join(home, 'ledger.db'), statement], { encoding: 'utf8' });
  if (r.error) throw r.error;
  expect(r.status, `sqlite3 ${statement}\n${r.stderr}`).toBe(0);
}

export interface LedgerVersion {
  alias: string;
  version: number;
  state: string;
  ckaId: string;
  destroyAfter: string | null;
}

export function ledgerVersions(home: string, alias?: string): LedgerVersion[] {
  return readLedger(home, (db) =>
    (db
      .prepare(
        `SELECT k.alias, v.version, v.state, lower(hex(v.cka_id)) AS ckaId, v.destroy_after AS destroyAfter
           FROM versions v JOIN keys k ON k.id = v.key_id ${alias ? 'WHERE k.alias = ?' : ''} ORDER BY k.alias, v.version`,
      )
      .all(...(alias ? [alias] : [])) as LedgerVersion[]),
  );
}

export function intentCount(home: string): number {
  return readLedger(home, (db) => (db.prepare('SELECT COUNT(*) AS n FROM intents').get() as { n: number }).n);
}

export interface AuditRow {
  seq: number;
  command: string;
  alias: string | null;
  version: number | null;
  outcome: string;
  error_code: string | null;
  details: string;
  prev_hash: Buffer;
  hash: Buffer;
}

export function auditRows(home: string): AuditRow[] {
  return readLedger(home, (db) => db.prepare('SELECT seq, command, alias, version, outcome, error_code, details, prev_hash, hash FROM audit ORDER BY seq').all() as AuditRow[]);
}

/** Every record's prev_hash is the previous record's hash, from the all-zero genesis, with no gap in seq. */
export function expectChainContinuous(rows: AuditRow[]): void {
  expect(rows.length).toBeGreaterThan(0);
  let prev: Buffer = Buffer.alloc(32);
  rows.forEach((r, i) => {
    expect(r.seq, `seq at position ${i}`).toBe(i + 1);
    expect(r.prev_hash.toString('hex'), `prev_hash of record ${r.seq}`).toBe(prev.toString('hex'));
    expect(r.hash.length).toBe(32);
    prev = r.hash;
  });
}

// ---------------------------------------------------------------------------------------------------
// The token, as someone else sees and changes it.

export function userPin(home: string): string {
  return readFileSync(join(home, 'softhsm', 'user.pin'), 'utf8').split('\n')[0];
}

function tokenEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, SOFTHSM2_CONF: join(home, 'softhsm', 'softhsm2.conf') };
}

/** pkcs11-tool logged in to the home's embedded token (selected by its label, never by slot). */
export function pkcs11Tool(home: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', 'kmsctl', '--login', '--pin', userPin(home), ...args], { env: tokenEnv(home), encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface TokenKey {
  cls: 'secret' | 'private' | 'public';
  label: string;
  id: string;
}

/** Key objects as `pkcs11-tool --list-objects` prints them. */
export function tokenKeys(home: string): TokenKey[] {
  const r = pkcs11Tool(home, ['--list-objects']);
  expect(r.code, r.stderr).toBe(0);
  const out: TokenKey[] = [];
  let cur: TokenKey | null = null;
  for (const line of r.stdout.split('\n')) {
    const head = /^(Private|Public|Secret) Key Object;/.exec(line);
    if (head) {
      cur = { cls: head[1].toLowerCase() as TokenKey['cls'], label: '', id: '' };
      out.push(cur);
      continue;
    }
    if (/^\S/.test(line)) {
      cur = null;
      continue;
    }
    const f = /^\s+(label|ID):\s*(.*)$/.exec(line);
    if (cur && f) {
      if (f[1] === 'label') cur.label = f[2].trim();
      else cur.id = f[2].trim().toLowerCase();
    }
  }
  return out;
}

/** "class id" for every key object, sorted: for "exactly these objects are on the token" checks. */
export function tokenIndex(home: string): string[] {
  return tokenKeys(home)
    .map((o) => `${o.cls} ${o.id}`)
    .sort();
}

const P11_SCRIPT = `
import pkcs11js from 'pkcs11js';
const [module, pin, cls, idHex, setJson, getJson] = process.argv.slice(1);
const P = pkcs11js;
const lib = new P.PKCS11();
lib.load(module);
lib.C_Initialize();
const out = { handles: 0, set: {}, get: {} };
try {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === 'kmsctl');
  const s = lib.C_OpenSession(slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
  lib.C_Login(s, P.CKU_USER, pin);
  const klass = { secret: P.CKO_SECRET_KEY, private: P.CKO_PRIVATE_KEY, public: P.CKO_PUBLIC_KEY }[cls];
  lib.C_FindObjectsInit(s, [{ type: P.CKA_CLASS, value: klass }, { type: P.CKA_ID, value: Buffer.from(idHex, 'hex') }]);
  const hs = lib.C_FindObjects(s, 16);
  lib.C_FindObjectsFinal(s);
  out.handles = hs.length;
  for (const h of hs) {
    for (const [name, value] of Object.entries(JSON.parse(setJson))) {
      try {
        lib.C_SetAttributeValue(s, h, [{ type: P[name], value }]);
        out.set[name] = 'ok';
      } catch (e) {
        out.set[name] = String(e.message).split(':')[0];
      }
    }
    for (const name of JSON.parse(getJson)) {
      const [a] = lib.C_GetAttributeValue(s, h, [{ type: P[name] }]);
      out.get[name] = a.value[0] === 1;
    }
  }
  lib.C_Logout(s);
  lib.C_CloseSession(s);
} finally {
  lib.C_Finalize();
}
process.stdout.write(JSON.stringify(out));
`;

export interface AttrResult {
  handles: number;
  /** Per attribute: "ok" or the CKR name the token answered. */
  set: Record<string, string>;
  get: Record<string, boolean>;
}

/**
 * Sets and reads boolean attributes of the objects with this class and CKA_ID, through pkcs11js in a
 * process of its own (pkcs11-tool cannot change attributes of an existing key).
 */
export function tokenAttributes(home: string, cls: TokenKey['cls'], idHex: string, set: Record<string, boolean>, get: string[] = []): AttrResult {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', P11_SCRIPT, softHsmModule(), userPin(home), cls, idHex, JSON.stringify(set), JSON.stringify(get)], {
    env: tokenEnv(home),
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as AttrResult;
}
