import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, type RunResult } from '../helpers/cli.js';
import { kj, ok, userPin } from '../helpers/e2e.js';
import { sqlite } from '../helpers/audit.js';

// SPEC section 6: never a PIN, plaintext, data key or signature input in the audit. After a run of every
// command that handles such a value, ledger.db (with its WAL), the export, the JSON Lines listing and
// the report are searched for each value the run used, raw and in every encoding kmsctl prints.

let home: string;
const secrets = new Map<string, Buffer>();
let scanned: Map<string, Buffer>;

function run(args: string[], o: { input?: string | Buffer; env?: Record<string, string> } = {}): RunResult {
  const r = kms(args, { home, ...o });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

function forms(v: Buffer): Buffer[] {
  const out = [v, Buffer.from(v.toString('hex')), Buffer.from(v.toString('hex').toUpperCase()), Buffer.from(v.toString('base64')), Buffer.from(v.toString('base64url'))];
  // A base64 form inside a longer base64 text may start at another offset: check the middle too.
  const b64 = v.toString('base64');
  if (b64.length > 12) out.push(Buffer.from(b64.slice(4, -4)));
  return out;
}

beforeAll(() => {
  home = initHome();
  const pin = userPin(home);
  secrets.set('user PIN', Buffer.from(pin));
  secrets.set('SO PIN', readFileSync(join(home, 'softhsm', 'so.pin')).subarray(0, -1));
  const wrongPin = `wrong-${randomBytes(9).toString('hex')}`;
  secrets.set('wrong PIN', Buffer.from(wrongPin));

  const dek = Buffer.concat([Buffer.from('DEK-PLAINTEXT-'), randomBytes(18)]);
  secrets.set('wrapped plaintext', dek);
  writeFileSync(join(home, 'dek'), dek);
  const message = Buffer.concat([Buffer.from('SIGNED-MESSAGE-'), randomBytes(24)]);
  secrets.set('message', message);
  writeFileSync(join(home, 'msg'), message);
  const macInput = Buffer.concat([Buffer.from('MAC-INPUT-'), randomBytes(24)]);
  secrets.set('MAC input', macInput);
  writeFileSync(join(home, 'mac-in'), macInput);

  run(['create', 'payments', '--spec', 'aes-256']);
  run(['create', 'release', '--spec', 'ed25519']);
  run(['create', 'hooks', '--spec', 'hmac-sha256']);
  // The PIN given the other ways too: environment and --pin-file.
  writeFileSync(join(home, 'pin-file'), `${pin}\n`);
  const blob = run(['wrap', 'payments', '--in', join(home, 'dek'), '--context', 'tenant=acme'], { env: { KMSCTL_PIN: pin } }).stdout;
  writeFileSync(join(home, 'blob'), blob);
  run(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=acme', '--out', join(home, 'dek.out'), '--pin-file', join(home, 'pin-file')]);
  expect(kms(['unwrap', '--in', join(home, 'blob'), '--context', 'tenant=other'], { home }).code).toBe(65);
  expect(kms(['wrap', 'payments', '--in', join(home, 'dek')], { home, env: { KMSCTL_PIN: wrongPin } }).code).toBe(77);
  const dk = ok(kj(['datakey', 'payments', '--bytes', '32'], { home }));
  secrets.set('data key (json)', Buffer.from(dk.plaintext, 'base64'));
  run(['datakey', 'payments', '--bytes', '64', '--plaintext-out', join(home, 'dk2.bin'), '--out', join(home, 'dk2.wrapped')]);
  secrets.set('data key (file)', readFileSync(join(home, 'dk2.bin')));
  run(['rewrap', '--in', join(home, 'blob'), '--context', 'tenant=acme', '--out', join(home, 'blob2')]);
  run(['sign', 'release', '--in', join(home, 'msg'), '--out', join(home, 'sig')]);
  run(['verify', 'release', '--in', join(home, 'msg'), '--signature', join(home, 'sig')]);
  const mac = run(['mac', 'hooks', '--in', join(home, 'mac-in')]).stdout.trim();
  writeFileSync(join(home, 'mac'), mac);
  run(['mac-verify', 'hooks', '--in', join(home, 'mac-in'), '--mac', join(home, 'mac')]);
  // Batch forms carry plaintexts inside JSON lines.
  const batchPlain = Buffer.concat([Buffer.from('BATCH-PLAINTEXT-'), randomBytes(16)]);
  secrets.set('batch plaintext', batchPlain);
  const wb = run(['wrap', 'payments', '--batch'], { input: `${JSON.stringify({ plaintext: batchPlain.toString('base64') })}\n` });
  const line = JSON.parse(wb.stdout.trim().split('\n')[0]);
  expect(line.ok).toBe(true);
  const ub = run(['unwrap', '--batch'], { input: `${JSON.stringify({ blob: line.blob })}\n` });
  expect(Buffer.from(JSON.parse(ub.stdout.trim()).plaintext, 'base64')).toEqual(batchPlain);
  run(['audit', 'export', '--out', join(home, 'export.jsonl'), '--checkpoint', join(home, 'checkpoint.json')]);
  writeFileSync(join(home, 'listing.jsonl'), run(['audit', '--jsonl']).stdout);
  writeFileSync(join(home, 'report.json'), run(['report', '--format', 'json']).stdout);
  writeFileSync(join(home, 'report.prom'), run(['report', '--format', 'prometheus']).stdout);

  scanned = new Map();
  for (const f of ['ledger.db', 'ledger.db-wal', 'export.jsonl', 'checkpoint.json', 'listing.jsonl', 'report.json', 'report.prom']) {
    if (existsSync(join(home, f))) scanned.set(f, readFileSync(join(home, f)));
  }
  // And the ledger's content as SQLite decodes it (text columns, JSON details).
  scanned.set('ledger dump', Buffer.from(sqlite(home, '.dump')));
});

afterAll(() => removeDir(home));

describe('no secret reaches the audit trail or its exports', () => {
  it('the run wrote a record for every operation, failures included', () => {
    const commands = sqlite(home, 'SELECT command || \':\' || outcome FROM audit').trim().split('\n');
    for (const c of ['wrap:success', 'unwrap:success', 'unwrap:failure', 'datakey:success', 'rewrap:success', 'sign:success', 'verify:success', 'mac:success', 'mac-verify:success']) {
      expect(commands).toContain(c);
    }
  });

  it('every value the run used is absent from ledger.db, its WAL, the export, the listing and the report', () => {
    expect(scanned.get('export.jsonl')!.length).toBeGreaterThan(0);
    const hits: string[] = [];
    for (const [name, value] of secrets) {
      expect(value.length, name).toBeGreaterThanOrEqual(8);
      for (const form of forms(value)) {
        for (const [file, bytes] of scanned) if (bytes.includes(form)) hits.push(`${name} (${form.toString('latin1').slice(0, 12)}...) in ${file}`);
      }
    }
    expect(hits).toEqual([]);
  });
});
