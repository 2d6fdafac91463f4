// Every command through the built binary with --json, on a real SoftHSM token made for this file:
// exit codes, the shape of each JSON document and the values in it, checked against independent
// verifiers (node:crypto for signatures, the blob layout of docs/blob-format.md, ledger.db itself).

import { constants, createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule, tempDir, type RunResult } from '../helpers/cli.js';
import {
  SIGN_SPECS,
  SPECS,
  auditCount,
  fails,
  failsPlain,
  flipBit,
  kj,
  ledgerQuery,
  ledgerRows,
  ok,
  parseBlob,
  tokenSnapshot,
  userPin,
  type Spec,
} from '../helpers/e2e.js';

let home: string;
let work: string;
const created = {} as Record<Spec, RunResult>;
/** Every data key plaintext this file saw, to prove none of them reached the audit trail. */
const plaintexts: string[] = [];

const alias = (s: string) => `k-${s}`;
const idOf = (s: Spec) => created[s].json.key.id as string;
const file = (name: string, content: Buffer | string) => {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
};
const run = (args: string[]) => kj(args, { home });

const PURPOSE: Record<Spec, string> = {
  'aes-256': 'wrap',
  'hmac-sha256': 'mac',
  'ec-p256': 'sign',
  'ec-p384': 'sign',
  ed25519: 'sign',
  'rsa-2048': 'sign',
  'rsa-3072': 'sign',
  'rsa-4096': 'sign',
};
const DIGEST: Record<string, string | null> = { 'ec-p256': 'sha256', 'ec-p384': 'sha384', ed25519: null, 'rsa-2048': 'sha256', 'rsa-3072': 'sha256', 'rsa-4096': 'sha256' };
const RSA_BYTES: Record<string, number> = { 'rsa-2048': 256, 'rsa-3072': 384, 'rsa-4096': 512 };
const KEY_FIELDS = ['alias', 'createdAt', 'deletionWindowSeconds', 'description', 'destroyAfter', 'exportable', 'id', 'labels', 'lastRotatedAt', 'primaryVersion', 'purpose', 'rotationPeriodSeconds', 'spec', 'state'];
const STRONG = { present: true, local: true, sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true };

/** Verifies with node:crypto, an implementation kmsctl does not use for signing. */
function independentlyValid(spec: string, pem: string, msg: Buffer, sig: Buffer, o: { digest?: string; padding?: 'pss' | 'pkcs1'; format?: 'der' | 'raw' } = {}): boolean {
  if (spec === 'ed25519') return nodeVerify(null, msg, pem, sig);
  const digest = o.digest ?? DIGEST[spec]!;
  if (spec.startsWith('ec-')) return nodeVerify(digest, msg, { key: pem, dsaEncoding: o.format === 'raw' ? 'ieee-p1363' : 'der' }, sig);
  const padding = o.padding === 'pkcs1' ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_PSS_PADDING;
  return nodeVerify(digest, msg, { key: pem, padding, saltLength: { sha256: 32, sha384: 48, sha512: 64 }[digest] }, sig);
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  for (const s of SPECS) created[s] = run(['create', alias(s), '--spec', s]);
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('init', () => {
  it('makes the embedded token, binds the ledger and audits it on a fresh home', () => {
    const fresh = tempDir();
    try {
      const d = ok(kj(['init'], { home: fresh }));
      expect(Object.keys(d)).toEqual(expect.arrayContaining(['changed', 'embedded', 'home', 'ledgerBound', 'ok', 'token', 'tokenCreated']));
      expect(d).toMatchObject({ home: fresh, embedded: true, tokenCreated: true, ledgerBound: true, changed: true });
      expect(d.token.label).toBe('kmsctl');
      expect(d.token.serial).toMatch(/^[0-9a-f]{16}$/);
      expect(d.token.manufacturer).toBe('SoftHSM project');
      expect(existsSync(join(fresh, 'ledger.db'))).toBe(true);
      expect(statSync(join(fresh, 'softhsm', 'user.pin')).mode & 0o777).toBe(0o600);
      expect(statSync(join(fresh, 'ledger.db')).mode & 0o777).toBe(0o600);
      expect(userPin(fresh).length).toBeGreaterThanOrEqual(16);
      const serial = ledgerQuery(fresh, (db) => (db.prepare("SELECT value FROM meta WHERE name = 'token_serial'").get() as { value: string }).value);
      expect(serial).toBe(d.token.serial);
      const records = ok(kj(['audit'], { home: fresh })).records;
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ seq: 1, command: 'init', outcome: 'success', errorCode: null });
      expect(records[0].details.tokenSerial).toBe(d.token.serial);
    } finally {
      removeDir(fresh);
    }
  });

  it('a second init reports changed:false and changes nothing', () => {
    const before = { audit: auditCount(home), rows: ledgerRows(home), pin: userPin(home), token: tokenSnapshot(home) };
    const serial = ledgerQuery(home, (db) => (db.prepare("SELECT value FROM meta WHERE name = 'token_serial'").get() as { value: string }).value);
    expect(before.audit).toBeGreaterThanOrEqual(1 + SPECS.length);
    const d = ok(run(['init']));
    expect(d).toMatchObject({ home, embedded: true, tokenCreated: false, ledgerBound: false, changed: false });
    expect(d.token.serial).toBe(serial);
    expect(auditCount(home)).toBe(before.audit);
    expect(ledgerRows(home)).toEqual(before.rows);
    expect(userPin(home)).toBe(before.pin);
    expect(tokenSnapshot(home)).toEqual(before.token);
  });
});

describe('create', () => {
  it.each(SPECS)('%s: version 1, enabled, with the purpose of its spec', (s) => {
    const d = ok(created[s]);
    expect(Object.keys(d).sort()).toEqual(['key', 'ok']);
    const k = d.key;
    expect(Object.keys(k)).toEqual(expect.arrayContaining(KEY_FIELDS));
    expect(k.id).toMatch(/^k_[0-9a-f]{20}$/);
    expect(k).toMatchObject({ alias: alias(s), spec: s, purpose: PURPOSE[s], state: 'enabled', primaryVersion: 1, rotationPeriodSeconds: null, deletionWindowSeconds: null, destroyAfter: null, description: null, labels: {}, exportable: false });
    expect(Math.abs(Date.now() - Date.parse(k.createdAt))).toBeLessThan(10 * 60_000);
    expect(k.lastRotatedAt).toBe(k.createdAt);
  });

  it('records a rotation period, deletion window, description and labels', () => {
    const d = ok(run(['create', 'with-options', '--spec', 'aes-256', '--rotation-period', '90d', '--deletion-window', '7d', '--description', 'payments data keys', '--label', 'team=core', '--label', 'env=ci']));
    expect(d.key).toMatchObject({ alias: 'with-options', rotationPeriodSeconds: 90 * 86400, deletionWindowSeconds: 7 * 86400, description: 'payments data keys', labels: { team: 'core', env: 'ci' } });
    const shown = ok(run(['show', 'with-options'])).key;
    expect(shown).toMatchObject({ id: d.key.id, rotationPeriodSeconds: 90 * 86400, deletionWindowSeconds: 7 * 86400, description: 'payments data keys', labels: { team: 'core', env: 'ci' } });
  });

  it('ids and CKA_IDs are unique across keys', () => {
    const ids = SPECS.map(idOf);
    expect(new Set(ids).size).toBe(SPECS.length);
    const ckaIds = ledgerRows(home).versions.map((v) => v.cka_id);
    expect(new Set(ckaIds).size).toBe(ckaIds.length);
    expect(ckaIds.length).toBeGreaterThanOrEqual(SPECS.length);
  });
});

describe('list', () => {
  it('lists every key once, as the ledger holds them', () => {
    const d = ok(run(['list']));
    expect(Object.keys(d).sort()).toEqual(['keys', 'ok']);
    const rows = ledgerRows(home).keys;
    expect(d.keys).toHaveLength(rows.length);
    expect(new Set(d.keys.map((k: { id: string }) => k.id)).size).toBe(rows.length);
    for (const s of SPECS) {
      const k = d.keys.find((x: { alias: string }) => x.alias === alias(s));
      expect(k, s).toBeDefined();
      // list may add derived fields (e.g. the days left of a deletion window) to the key's own.
      expect(Object.keys(k)).toEqual(expect.arrayContaining(KEY_FIELDS));
      expect(k).toMatchObject({ id: idOf(s), spec: s, purpose: PURPOSE[s], state: 'enabled', primaryVersion: 1, destroyAfter: null });
    }
  });
});

describe('show', () => {
  it.each(SPECS)('%s: its version and the token attributes of its objects', (s) => {
    const d = ok(run(['show', alias(s)]));
    expect(Object.keys(d).sort()).toEqual(['key', 'ok']);
    const k = d.key;
    expect(k).toMatchObject({ id: idOf(s), alias: alias(s), spec: s, state: 'enabled', primaryVersion: 1 });
    expect(k.versions).toHaveLength(1);
    const v = k.versions[0];
    expect(v).toMatchObject({ version: 1, state: 'enabled', primary: true, label: `${alias(s)}/v1`, useCount: 0, lastUsedAt: null, destroyAfter: null });
    expect(v.ckaId).toMatch(/^[0-9a-f]{32}$/);
    expect(ledgerRows(home).versions.find((x) => x.key_id === idOf(s))?.cka_id).toBe(v.ckaId);
    if (PURPOSE[s] === 'sign') {
      expect(v.token).toHaveLength(2);
      const priv = v.token.find((o: { class: string }) => o.class === 'private');
      const pub = v.token.find((o: { class: string }) => o.class === 'public');
      expect(priv).toEqual({ class: 'private', ...STRONG, usage: ['sign'] });
      expect(pub).toMatchObject({ class: 'public', present: true, local: true });
      expect(pub.usage).toEqual(['verify']);
    } else {
      expect(v.token).toEqual([{ class: 'secret', ...STRONG, usage: s === 'aes-256' ? ['encrypt', 'decrypt'] : ['sign', 'verify'] }]);
    }
  });
});

describe('rotate', () => {
  it('adds version 2 as primary; version 1 stays enabled on the token', () => {
    const c = ok(run(['create', 'rot-aes', '--spec', 'aes-256']));
    const r = ok(run(['rotate', 'rot-aes']));
    expect(r).toMatchObject({ ok: true, keyId: c.key.id, alias: 'rot-aes', version: 2, previousPrimary: 1, primaryVersion: 2 });
    const k = ok(run(['show', 'rot-aes'])).key;
    expect(k.primaryVersion).toBe(2);
    expect(k.versions.map((v: { version: number; primary: boolean; state: string }) => [v.version, v.primary, v.state])).toEqual([
      [1, false, 'enabled'],
      [2, true, 'enabled'],
    ]);
    expect(k.versions[0].ckaId).not.toBe(k.versions[1].ckaId);
    expect(k.versions[1].label).toBe('rot-aes/v2');
    for (const v of k.versions) expect(v.token).toEqual([{ class: 'secret', ...STRONG, usage: ['encrypt', 'decrypt'] }]);
    expect(Date.parse(k.lastRotatedAt)).toBeGreaterThanOrEqual(Date.parse(k.createdAt));
    const r3 = ok(run(['rotate', c.key.id]));
    expect(r3).toMatchObject({ version: 3, previousPrimary: 2, primaryVersion: 3 });
    expect(ok(run(['list'])).keys.find((x: { id: string }) => x.id === c.key.id).primaryVersion).toBe(3);
  });

  it('a rotated signing key signs with a new key pair', () => {
    ok(run(['create', 'rot-ed', '--spec', 'ed25519']));
    const before = ok(run(['public-key', 'rot-ed']));
    expect(before.version).toBe(1);
    expect(ok(run(['rotate', 'rot-ed']))).toMatchObject({ version: 2, previousPrimary: 1, primaryVersion: 2 });
    const after = ok(run(['public-key', 'rot-ed']));
    expect(after.version).toBe(2);
    expect(after.pem).not.toBe(before.pem);
    const msg = file('rot-ed.msg', randomBytes(100));
    const s = ok(run(['sign', 'rot-ed', '--in', msg]));
    expect(s.version).toBe(2);
    expect(independentlyValid('ed25519', after.pem, readFileSync(msg), Buffer.from(s.signature, 'base64'))).toBe(true);
    expect(independentlyValid('ed25519', before.pem, readFileSync(msg), Buffer.from(s.signature, 'base64'))).toBe(false);
  });
});

describe('wrap and unwrap', () => {
  it('wrap --in with a context; unwrap with the same context (any order) gives the data key back', () => {
    const dek = randomBytes(32);
    const d = ok(run(['wrap', alias('aes-256'), '--in', file('dek1', dek), '--context', 'tenant=acme', '--context', 'app=billing']));
    expect(Object.keys(d).sort()).toEqual(['alias', 'blob', 'keyId', 'ok', 'version']);
    expect(d).toMatchObject({ keyId: idOf('aes-256'), alias: alias('aes-256'), version: 1 });
    const b = parseBlob(d.blob);
    expect(b).toMatchObject({ keyId: idOf('aes-256'), keyVersion: 1, ciphertextLength: 48 });
    expect(b.ciphertext.subarray(0, 32).equals(dek)).toBe(false);
    const u = ok(run(['unwrap', '--in', file('dek1.wrapped', `${d.blob}\n`), '--context', 'app=billing', '--context', 'tenant=acme']));
    expect(Object.keys(u).sort()).toEqual(['alias', 'keyId', 'ok', 'plaintext', 'version']);
    expect(u).toMatchObject({ keyId: idOf('aes-256'), alias: alias('aes-256'), version: 1 });
    expect(Buffer.from(u.plaintext, 'base64').equals(dek)).toBe(true);
  });

  it('wrap reads stdin and prints one text line; unwrap without --json prints the raw bytes', () => {
    const dek = randomBytes(24);
    const w = kms(['wrap', alias('aes-256')], { home, input: dek });
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/^kmsctl:v1:[A-Za-z0-9_-]+\n$/);
    expect(parseBlob(w.stdout).ciphertextLength).toBe(24 + 16);
    const u = kms(['unwrap'], { home, input: w.stdout });
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdoutBytes.equals(dek)).toBe(true);
  });

  it('wrap --binary --out writes a KMSW blob; unwrap --out writes the data key 0600', () => {
    const dek = randomBytes(4096);
    const out = join(work, 'dek.bin.wrapped');
    const d = ok(run(['wrap', alias('aes-256'), '--in', file('dek-max', dek), '--binary', '--out', out]));
    expect(d.out).toBe(out);
    const bin = readFileSync(out);
    expect(bin.subarray(0, 4).toString('latin1')).toBe('KMSW');
    expect(parseBlob(bin)).toMatchObject({ keyId: idOf('aes-256'), keyVersion: 1, ciphertextLength: 4096 + 16 });
    expect(`kmsctl:v1:${bin.toString('base64url')}`).toBe(d.blob);
    const ptOut = join(work, 'dek-max.out');
    const u = ok(run(['unwrap', '--in', out, '--out', ptOut]));
    expect(u).toEqual({ ok: true, keyId: idOf('aes-256'), alias: alias('aes-256'), version: 1, out: ptOut });
    expect(readFileSync(ptOut).equals(dek)).toBe(true);
    expect(statSync(ptOut).mode & 0o777).toBe(0o600);
  });

  it('the smallest data key (1 byte) round-trips', () => {
    const d = ok(run(['wrap', alias('aes-256'), '--in', file('dek-1', Buffer.from([0x0a]))]));
    expect(parseBlob(d.blob).ciphertextLength).toBe(17);
    const u = ok(run(['unwrap', '--in', file('dek-1.wrapped', d.blob)]));
    expect(u.plaintext).toBe(Buffer.from([0x0a]).toString('base64'));
  });

  it('successful wraps and unwraps move the use count; a refused unwrap does not', () => {
    const a = alias('aes-256');
    const uses = () => ok(run(['show', a])).key.versions[0];
    const before = uses();
    const d = ok(run(['wrap', a, '--in', file('dek-uses', randomBytes(32)), '--context', 'k=v']));
    const blob = file('dek-uses.wrapped', d.blob);
    ok(run(['unwrap', '--in', blob, '--context', 'k=v']));
    fails(run(['unwrap', '--in', blob, '--context', 'k=other']), 65, 'bad-data');
    const after = uses();
    expect(after.useCount).toBe(before.useCount + 2);
    expect(after.lastUsedBy).toBe('unwrap');
    expect(Date.parse(after.lastUsedAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
  });
});

describe('datakey', () => {
  it.each([16, 24, 32, 64])('--bytes %i: plaintext of that size, and unwrap of its blob gives the same plaintext', (n) => {
    const d = ok(run(['datakey', alias('aes-256'), '--bytes', String(n)]));
    expect(Object.keys(d).sort()).toEqual(['alias', 'blob', 'bytes', 'keyId', 'ok', 'plaintext', 'version']);
    expect(d).toMatchObject({ keyId: idOf('aes-256'), alias: alias('aes-256'), version: 1, bytes: n });
    expect(d.plaintext).toHaveLength(4 * Math.ceil(n / 3));
    const pt = Buffer.from(d.plaintext, 'base64');
    expect(pt).toHaveLength(n);
    expect(pt.toString('base64')).toBe(d.plaintext);
    plaintexts.push(d.plaintext);
    expect(parseBlob(d.blob)).toMatchObject({ keyId: idOf('aes-256'), keyVersion: 1, ciphertextLength: n + 16 });
    const u = ok(run(['unwrap', '--in', file(`datakey-${n}`, d.blob)]));
    expect(u.plaintext).toBe(d.plaintext);
  });

  it('defaults to 32 bytes and never repeats a key', () => {
    const a = ok(run(['datakey', alias('aes-256')]));
    const b = ok(run(['datakey', alias('aes-256')]));
    expect(a.bytes).toBe(32);
    expect(Buffer.from(a.plaintext, 'base64')).toHaveLength(32);
    expect(a.plaintext).not.toBe(b.plaintext);
    expect(parseBlob(a.blob).iv.equals(parseBlob(b.blob).iv)).toBe(false);
    plaintexts.push(a.plaintext, b.plaintext);
  });

  it('--plaintext-out and --out write files; the context binds the blob', () => {
    const ptPath = join(work, 'dk.plain');
    const blobPath = join(work, 'dk.wrapped');
    const d = ok(run(['datakey', alias('aes-256'), '--bytes', '64', '--context', 'tenant=acme', '--plaintext-out', ptPath, '--out', blobPath]));
    expect(d).toMatchObject({ bytes: 64, plaintextOut: ptPath, out: blobPath });
    expect(d.plaintext).toBeUndefined();
    const pt = readFileSync(ptPath);
    expect(pt).toHaveLength(64);
    expect(statSync(ptPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(blobPath, 'utf8')).toBe(`${d.blob}\n`);
    plaintexts.push(pt.toString('base64'));
    expect(Buffer.from(ok(run(['unwrap', '--in', blobPath, '--context', 'tenant=acme'])).plaintext, 'base64').equals(pt)).toBe(true);
    expect(fails(run(['unwrap', '--in', blobPath]), 65, 'bad-data').reason).toBe('context-mismatch');
  });
});

describe('rewrap', () => {
  it('at the primary version: a new blob (new IV) with the same plaintext, never printed', () => {
    const dek = randomBytes(32);
    const w = ok(run(['wrap', alias('aes-256'), '--in', file('rw.dek', dek), '--context', 'a=1']));
    const r = ok(run(['rewrap', '--in', file('rw.wrapped', w.blob), '--context', 'a=1']));
    expect(Object.keys(r).sort()).toEqual(['alias', 'blob', 'fromVersion', 'keyId', 'ok', 'version']);
    expect(r).toMatchObject({ keyId: idOf('aes-256'), alias: alias('aes-256'), fromVersion: 1, version: 1 });
    expect(r.blob).not.toBe(w.blob);
    expect(parseBlob(r.blob).iv.equals(parseBlob(w.blob).iv)).toBe(false);
    expect(JSON.stringify(r)).not.toContain(dek.toString('base64'));
    const u = ok(run(['unwrap', '--in', file('rw2.wrapped', r.blob), '--context', 'a=1']));
    expect(Buffer.from(u.plaintext, 'base64').equals(dek)).toBe(true);
  });

  it('--out writes the new blob as one text line', () => {
    const w = ok(run(['datakey', alias('aes-256')]));
    plaintexts.push(w.plaintext);
    const out = join(work, 'rw3.wrapped');
    const r = ok(run(['rewrap', '--in', file('rw3.in', w.blob), '--out', out]));
    expect(r.out).toBe(out);
    expect(readFileSync(out, 'utf8')).toBe(`${r.blob}\n`);
    expect(ok(run(['unwrap', '--in', out])).plaintext).toBe(w.plaintext);
  });
});

describe('sign, verify and public-key', () => {
  it.each(SIGN_SPECS)('%s: the signature verifies with node:crypto and kmsctl verify; a changed message does not', (s) => {
    const msg = randomBytes(1 + Math.floor(Math.random() * 3000));
    const msgPath = file(`${s}.msg`, msg);
    const sigPath = join(work, `${s}.sig`);
    const d = ok(run(['sign', alias(s), '--in', msgPath, '--out', sigPath]));
    const expected: Record<string, unknown> = { keyId: idOf(s), alias: alias(s), version: 1, spec: s, digest: DIGEST[s], out: sigPath };
    if (s.startsWith('ec-')) expected.format = 'der';
    if (s.startsWith('rsa-')) expected.padding = 'pss';
    expect(Object.keys(d).sort()).toEqual([...Object.keys(expected), 'ok', 'signature'].sort());
    expect(d).toMatchObject(expected);
    const sig = readFileSync(sigPath);
    expect(sig.toString('base64')).toBe(d.signature);
    if (s === 'ed25519') expect(sig).toHaveLength(64);
    else if (s.startsWith('rsa-')) expect(sig).toHaveLength(RSA_BYTES[s]);
    else {
      expect(sig[0]).toBe(0x30);
      expect(sig[1]).toBe(sig.length - 2);
    }

    const pk = ok(run(['public-key', alias(s)]));
    expect(Object.keys(pk).sort()).toEqual(['alias', 'keyId', 'ok', 'pem', 'spec', 'version']);
    expect(pk).toMatchObject({ keyId: idOf(s), alias: alias(s), version: 1, spec: s });
    expect(pk.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
    const key = createPublicKey(pk.pem);
    if (s === 'ed25519') expect(key.asymmetricKeyType).toBe('ed25519');
    else if (s.startsWith('ec-')) expect(key.asymmetricKeyDetails?.namedCurve).toBe(s === 'ec-p256' ? 'prime256v1' : 'secp384r1');
    else expect(key.asymmetricKeyDetails?.modulusLength).toBe(RSA_BYTES[s] * 8);
    expect(independentlyValid(s, pk.pem, msg, sig)).toBe(true);

    const v = ok(run(['verify', alias(s), '--in', msgPath, '--signature', sigPath]));
    const { out: _out, spec: _spec, ...same } = expected;
    expect(v).toEqual({ ok: true, valid: true, ...same });
    // The signature file may hold base64 too.
    ok(run(['verify', alias(s), '--in', msgPath, '--signature', file(`${s}.sig.b64`, `${d.signature}\n`)]));
    const bad = fails(run(['verify', alias(s), '--in', file(`${s}.msg.flipped`, flipBit(msg, msg.length >> 1, 3)), '--signature', sigPath]), 1, 'check-failed');
    expect(bad.reason).toBe('signature-invalid');
  });

  it('rsa-2048 --padding pkcs1 signs PKCS#1 v1.5, and verify needs the same padding', () => {
    const msg = randomBytes(333);
    const msgPath = file('pkcs1.msg', msg);
    const d = ok(run(['sign', alias('rsa-2048'), '--in', msgPath, '--padding', 'pkcs1']));
    expect(d).toMatchObject({ padding: 'pkcs1', digest: 'sha256' });
    const sig = Buffer.from(d.signature, 'base64');
    const pem = ok(run(['public-key', alias('rsa-2048')])).pem;
    expect(independentlyValid('rsa-2048', pem, msg, sig, { padding: 'pkcs1' })).toBe(true);
    expect(independentlyValid('rsa-2048', pem, msg, sig, { padding: 'pss' })).toBe(false);
    const sigPath = file('pkcs1.sig', sig);
    expect(ok(run(['verify', alias('rsa-2048'), '--in', msgPath, '--signature', sigPath, '--padding', 'pkcs1'])).padding).toBe('pkcs1');
    fails(run(['verify', alias('rsa-2048'), '--in', msgPath, '--signature', sigPath]), 1, 'check-failed');
  });

  it('ec-p256 --format raw gives r||s; --digest sha512 hashes with SHA-512', () => {
    const msg = randomBytes(77);
    const msgPath = file('ec-opts.msg', msg);
    const pem = ok(run(['public-key', alias('ec-p256')])).pem;
    const raw = ok(run(['sign', alias('ec-p256'), '--in', msgPath, '--format', 'raw']));
    expect(raw.format).toBe('raw');
    const rawSig = Buffer.from(raw.signature, 'base64');
    expect(rawSig).toHaveLength(64);
    expect(independentlyValid('ec-p256', pem, msg, rawSig, { format: 'raw' })).toBe(true);
    ok(run(['verify', alias('ec-p256'), '--in', msgPath, '--signature', file('ec-raw.sig', rawSig), '--format', 'raw']));
    const s512 = ok(run(['sign', alias('ec-p256'), '--in', msgPath, '--digest', 'sha512']));
    expect(s512.digest).toBe('sha512');
    const sig512 = Buffer.from(s512.signature, 'base64');
    expect(independentlyValid('ec-p256', pem, msg, sig512, { digest: 'sha512' })).toBe(true);
    expect(independentlyValid('ec-p256', pem, msg, sig512, { digest: 'sha256' })).toBe(false);
    ok(run(['verify', alias('ec-p256'), '--in', msgPath, '--signature', file('ec-512.sig', sig512), '--digest', 'sha512']));
  });

  it('public-key --version and verify --version name an older version after a rotation', () => {
    ok(run(['create', 'pv', '--spec', 'ec-p256']));
    const v1 = ok(run(['public-key', 'pv']));
    const msgPath = file('pv.msg', randomBytes(64));
    const sigPath = join(work, 'pv.sig');
    ok(run(['sign', 'pv', '--in', msgPath, '--out', sigPath]));
    ok(run(['rotate', 'pv']));
    const old = ok(run(['public-key', 'pv', '--version', '1']));
    expect(old).toMatchObject({ version: 1, pem: v1.pem });
    const e = fails(run(['verify', 'pv', '--in', msgPath, '--signature', sigPath]), 1, 'check-failed');
    expect(e.hint).toContain('--version');
    expect(ok(run(['verify', 'pv', '--in', msgPath, '--signature', sigPath, '--version', '1']))).toMatchObject({ valid: true, version: 1 });
  });
});

describe('mac and mac-verify', () => {
  it('HMAC-SHA256 on the token: 32 bytes, deterministic, checked by mac-verify', () => {
    const a = alias('hmac-sha256');
    const msg = randomBytes(500);
    const msgPath = file('mac.msg', msg);
    const m = ok(run(['mac', a, '--in', msgPath]));
    expect(Object.keys(m).sort()).toEqual(['alias', 'keyId', 'mac', 'ok', 'version']);
    expect(m).toMatchObject({ keyId: idOf('hmac-sha256'), alias: a, version: 1 });
    expect(Buffer.from(m.mac, 'base64')).toHaveLength(32);
    expect(ok(run(['mac', a, '--in', msgPath])).mac).toBe(m.mac);
    const other = file('mac.other', flipBit(msg, 0));
    expect(ok(run(['mac', a, '--in', other])).mac).not.toBe(m.mac);

    const outPath = join(work, 'mac.raw');
    expect(ok(run(['mac', a, '--in', msgPath, '--out', outPath])).out).toBe(outPath);
    expect(readFileSync(outPath).toString('base64')).toBe(m.mac);

    expect(ok(run(['mac-verify', a, '--in', msgPath, '--mac', outPath]))).toEqual({ ok: true, valid: true, keyId: idOf('hmac-sha256'), alias: a, version: 1 });
    ok(run(['mac-verify', a, '--in', msgPath, '--mac', file('mac.b64', `${m.mac}\n`)]));
    expect(fails(run(['mac-verify', a, '--in', other, '--mac', outPath]), 1, 'check-failed').reason).toBe('mac-invalid');
    fails(run(['mac-verify', a, '--in', msgPath, '--mac', file('mac.flipped', flipBit(readFileSync(outPath), 31, 7))]), 1, 'check-failed');
  });

  it('mac-verify --version checks against an older version after a rotation', () => {
    ok(run(['create', 'mv', '--spec', 'hmac-sha256']));
    const msgPath = file('mv.msg', randomBytes(40));
    const macPath = join(work, 'mv.mac');
    ok(run(['mac', 'mv', '--in', msgPath, '--out', macPath]));
    ok(run(['rotate', 'mv']));
    fails(run(['mac-verify', 'mv', '--in', msgPath, '--mac', macPath]), 1, 'check-failed');
    expect(ok(run(['mac-verify', 'mv', '--in', msgPath, '--mac', macPath, '--version', '1']))).toMatchObject({ valid: true, version: 1 });
  });
});

describe('failures keep the --json contract', () => {
  const cases: Array<[string, () => string[], number, string]> = [
    ['show of an unknown key', () => ['show', 'nope'], 66, 'not-found'],
    ['rotate of an unknown key', () => ['rotate', 'nope'], 66, 'not-found'],
    ['wrap with an unknown key', () => ['wrap', 'nope', '--in', file('f.dek', randomBytes(32))], 66, 'not-found'],
    ['datakey with an unknown key', () => ['datakey', 'nope'], 66, 'not-found'],
    ['sign with an unknown key', () => ['sign', 'nope', '--in', file('f.msg', 'x')], 66, 'not-found'],
    ['verify with an unknown key', () => ['verify', 'nope', '--in', file('f.msg', 'x'), '--signature', file('f.sig', randomBytes(64))], 66, 'not-found'],
    ['public-key of an unknown key', () => ['public-key', 'nope'], 66, 'not-found'],
    ['mac with an unknown key', () => ['mac', 'nope', '--in', file('f.msg', 'x')], 66, 'not-found'],
    ['mac-verify with an unknown key', () => ['mac-verify', 'nope', '--in', file('f.msg', 'x'), '--mac', file('f.mac', randomBytes(32))], 66, 'not-found'],
    ['unwrap of something that is not a blob', () => ['unwrap', '--in', file('f.garbage', 'hello world\n')], 65, 'bad-data'],
    ['rewrap of something that is not a blob', () => ['rewrap', '--in', file('f.garbage', 'hello world\n')], 65, 'bad-data'],
    ['create with an alias that cannot be a label', () => ['create', 'bad/alias', '--spec', 'aes-256'], 64, 'usage'],
    ['create without --spec', () => ['create', 'no-spec'], 64, 'usage'],
    ['sign with a wrapping key', () => ['sign', alias('aes-256'), '--in', file('f.msg', 'x')], 64, 'usage'],
    ['wrap with a signing key', () => ['wrap', alias('ec-p256'), '--in', file('f.dek', randomBytes(32))], 64, 'usage'],
    ['public-key of a symmetric key', () => ['public-key', alias('aes-256')], 64, 'usage'],
    ['audit --limit 0', () => ['audit', '--limit', '0'], 64, 'usage'],
    ['list with an unknown option', () => ['list', '--bogus'], 64, 'usage'],
    ['init with --module but no token', () => ['init', '--module', softHsmModule()], 64, 'usage'],
  ];

  it.each(cases)('%s', (_name, args, exitCode, code) => {
    const a = args();
    fails(run(a), exitCode, code);
    failsPlain(kms(a, { home }), exitCode);
  });

  it('a command on a home that was never initialised is a configuration error', () => {
    const empty = tempDir();
    try {
      expect(fails(kj(['list'], { home: empty }), 78, 'config').reason).toBe('no-ledger');
    } finally {
      removeDir(empty);
    }
  });
});

describe('audit', () => {
  it('records every operation in order, success and failure, with no secrets', () => {
    const d = ok(run(['audit']));
    expect(Object.keys(d).sort()).toEqual(['ok', 'records']);
    const recs = d.records as Array<Record<string, any>>;
    expect(recs).toHaveLength(auditCount(home));
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_r, i) => i + 1));
    expect(recs[0]).toMatchObject({ command: 'init', outcome: 'success' });
    for (const r of recs) {
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['actor', 'alias', 'command', 'details', 'durationMs', 'errorCode', 'hash', 'host', 'keyId', 'osUser', 'outcome', 'seq', 'ts', 'version']));
      expect(new Date(r.ts).toISOString()).toBe(r.ts);
      expect(['success', 'failure']).toContain(r.outcome);
      expect(r.errorCode === null).toBe(r.outcome === 'success');
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    const creates = recs.filter((r) => r.command === 'create' && r.outcome === 'success');
    for (const s of SPECS) expect(creates.some((r) => r.keyId === idOf(s) && r.alias === alias(s) && r.version === 1)).toBe(true);
    for (const cmd of ['rotate', 'wrap', 'unwrap', 'datakey', 'rewrap', 'sign', 'verify', 'mac', 'mac-verify']) {
      expect(recs.some((r) => r.command === cmd && r.outcome === 'success'), cmd).toBe(true);
    }
    expect(recs.some((r) => r.command === 'verify' && r.outcome === 'failure' && r.errorCode === 'signature-invalid')).toBe(true);
    expect(recs.some((r) => r.command === 'unwrap' && r.outcome === 'failure' && r.errorCode === 'context-mismatch')).toBe(true);
    const all = JSON.stringify(recs);
    expect(plaintexts.length).toBeGreaterThanOrEqual(8);
    for (const p of plaintexts) expect(all).not.toContain(p);
    expect(all).not.toContain(userPin(home));
  });

  it('--key filters by alias or id, --limit keeps the newest, --since-seq skips older ones', () => {
    const all = ok(run(['audit'])).records as Array<Record<string, any>>;
    const byAlias = ok(run(['audit', '--key', alias('hmac-sha256')])).records as Array<Record<string, any>>;
    expect(byAlias.length).toBeGreaterThanOrEqual(4);
    for (const r of byAlias) expect(r.keyId).toBe(idOf('hmac-sha256'));
    expect(byAlias.map((r) => r.seq)).toEqual(all.filter((r) => r.keyId === idOf('hmac-sha256')).map((r) => r.seq));
    expect(ok(run(['audit', '--key', idOf('hmac-sha256')])).records).toEqual(byAlias);
    expect(ok(run(['audit', '--limit', '2'])).records).toEqual(all.slice(-2));
    const since = all[all.length - 4].seq;
    expect(ok(run(['audit', '--since-seq', String(since)])).records).toEqual(all.slice(-3));
  });
});
