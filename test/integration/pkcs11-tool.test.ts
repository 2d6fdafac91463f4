// pkcs11-tool (OpenSC) looks at the token kmsctl wrote: every version of every spec is there under
// CKA_LABEL alias/vN with the CKA_ID the ledger holds, sensitive and never extractable, with only the
// usage its purpose needs; and the objects behind those CKA_IDs are the keys kmsctl uses (same public
// key, same HMAC, signatures kmsctl verifies).

import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import { SPECS, kj, ledgerRows, ok, pkcs11Tool, tokenObjects, type Spec, type TokenObject } from '../helpers/e2e.js';

let home: string;
let work: string;
let objects: TokenObject[];
const shown = {} as Record<Spec, any>;
const alias = (s: Spec) => `p11-${s}`;
const run = (args: string[]) => kj(args, { home });

// pkcs11-tool's words for the access flags of a key that never left the token.
const NEVER_LEFT = ['sensitive', 'always sensitive', 'never extractable', 'local'];
const PUBLIC_TYPE: Record<string, RegExp> = {
  'ec-p256': /^EC\s+EC_POINT 256 bits$/,
  'ec-p384': /^EC\s+EC_POINT 384 bits$/,
  ed25519: /^EC_EDWARDS\s+EC_POINT 255 bits$/,
  'rsa-2048': /^RSA 2048 bits$/,
  'rsa-3072': /^RSA 3072 bits$/,
  'rsa-4096': /^RSA 4096 bits$/,
};
const PRIVATE_TYPE: Record<string, string> = { 'ec-p256': 'EC', 'ec-p384': 'EC', ed25519: 'EC_EDWARDS', 'rsa-2048': 'RSA', 'rsa-3072': 'RSA', 'rsa-4096': 'RSA' };

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  for (const s of SPECS) {
    ok(run(['create', alias(s), '--spec', s]));
    expect(ok(run(['rotate', alias(s)])).version).toBe(2);
  }
  for (const s of SPECS) shown[s] = ok(run(['show', alias(s)])).key;
  objects = tokenObjects(home);
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('pkcs11-tool --list-objects', () => {
  it.each(SPECS)('%s: both versions under alias/vN with the ledger\'s CKA_ID, sensitive, never extractable', (s) => {
    const k = shown[s];
    expect(k.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    for (const v of k.versions) {
      expect(v.ckaId).toMatch(/^[0-9a-f]{32}$/);
      const mine = objects.filter((o) => o.id === v.ckaId);
      for (const o of mine) expect(o.label).toBe(`${alias(s)}/v${v.version}`);
      if (s === 'aes-256' || s === 'hmac-sha256') {
        expect(mine).toHaveLength(1);
        const [o] = mine;
        expect(o.cls).toBe('secret');
        expect(o.type).toBe(s === 'aes-256' ? 'AES length 32' : 'Generic secret length 32');
        expect(o.access).toEqual(NEVER_LEFT);
        if (s === 'aes-256') expect(o.usage).toEqual(['encrypt', 'decrypt']);
        // OpenSC 0.23 prints only "verify" for a generic secret whose CKA_SIGN and CKA_VERIFY are both
        // true; CKA_SIGN is shown by the HMAC test below, which makes pkcs11-tool sign with this object.
        else expect(o.usage).toEqual(['verify']);
      } else {
        expect(mine.map((o) => o.cls).sort()).toEqual(['private', 'public']);
        const priv = mine.find((o) => o.cls === 'private')!;
        const pub = mine.find((o) => o.cls === 'public')!;
        expect(priv.type).toBe(PRIVATE_TYPE[s]);
        expect(pub.type).toMatch(PUBLIC_TYPE[s]);
        expect(priv.access).toEqual(NEVER_LEFT);
        expect(priv.usage).toEqual(['sign']);
        expect(pub.usage).toEqual(['verify']);
        expect(pub.access).toEqual(['local']);
      }
    }
  });

  it('the token and the ledger agree: every version has objects, every alias/vN object has a version', () => {
    const rows = ledgerRows(home);
    expect(rows.versions).toHaveLength(2 * SPECS.length);
    const ledgerIds = rows.versions.map((v) => v.cka_id).sort();
    expect(new Set(ledgerIds).size).toBe(ledgerIds.length);
    const versioned = objects.filter((o) => /\/v\d+$/.test(o.label));
    expect(versioned).toHaveLength(2 * (2 * 6 + 2));
    expect([...new Set(versioned.map((o) => o.id))].sort()).toEqual(ledgerIds);
    // The show --json CKA_IDs are the ledger's.
    const shownIds = SPECS.flatMap((s) => shown[s].versions.map((v: { ckaId: string }) => v.ckaId)).sort();
    expect(shownIds).toEqual(ledgerIds);
    // Nothing kmsctl made is extractable or readable.
    for (const o of objects.filter((x) => x.cls !== 'public')) expect(o.access).toEqual(NEVER_LEFT);
  });
});

describe('the objects behind the CKA_IDs are the keys kmsctl uses', () => {
  // OpenSC 0.23 exports EC P-256 and RSA public keys (--read-object --type pubkey) but fails on P-384
  // ("cannot create EVP_PKEY") and Ed25519; those are compared through the EC_POINT it lists.
  it.each(['ec-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as Spec[])('%s: the public key pkcs11-tool reads is the one kmsctl publishes, per version', (s) => {
    for (const v of shown[s].versions) {
      const der = join(work, `${s}-v${v.version}.der`);
      const r = pkcs11Tool(home, ['--read-object', '--type', 'pubkey', '--id', v.ckaId, '-o', der]);
      expect(r.code, r.stderr).toBe(0);
      const fromToken = createPublicKey({ key: readFileSync(der), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' });
      expect(ok(run(['public-key', alias(s), '--version', String(v.version)])).pem).toBe(fromToken);
    }
  });

  it.each([
    ['ec-p256', 65],
    ['ec-p384', 97],
    ['ed25519', 32],
  ] as Array<[Spec, number]>)('%s: the EC_POINT pkcs11-tool lists is the point in kmsctl\'s SubjectPublicKeyInfo, per version', (s, pointLen) => {
    for (const v of shown[s].versions) {
      const pub = objects.find((o) => o.id === v.ckaId && o.cls === 'public')!;
      const spki = createPublicKey(ok(run(['public-key', alias(s), '--version', String(v.version)])).pem).export({ format: 'der', type: 'spki' });
      // The SPKI ends with the point; CKA_EC_POINT is a DER OCTET STRING around it.
      const point = spki.subarray(spki.length - pointLen);
      if (s !== 'ed25519') expect(point[0]).toBe(0x04);
      expect(pub.ecPoint).toBe(`04${pointLen.toString(16).padStart(2, '0')}${point.toString('hex')}`);
    }
  });

  it('hmac-sha256: pkcs11-tool computes the same HMAC with each version\'s object as kmsctl does', () => {
    const msg = randomBytes(777);
    const msgPath = join(work, 'hmac.msg');
    writeFileSync(msgPath, msg);
    const [v1, v2] = shown['hmac-sha256'].versions;
    const viaTool = (ckaId: string) => {
      const r = pkcs11Tool(home, ['--sign', '--mechanism', 'SHA256-HMAC', '--id', ckaId, '-i', msgPath]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toHaveLength(32);
      return r.stdout;
    };
    const t1 = viaTool(v1.ckaId);
    const t2 = viaTool(v2.ckaId);
    expect(t1.equals(t2)).toBe(false);
    expect(ok(run(['mac', alias('hmac-sha256'), '--in', msgPath])).mac).toBe(t2.toString('base64'));
    writeFileSync(join(work, 't1.mac'), t1);
    expect(ok(run(['mac-verify', alias('hmac-sha256'), '--in', msgPath, '--mac', join(work, 't1.mac'), '--version', '1'])).version).toBe(1);
  });

  it('ec-p256: pkcs11-tool signs with the version 1 object, kmsctl verify --version 1 accepts it', () => {
    const msg = randomBytes(200);
    const msgPath = join(work, 'ec.msg');
    const digestPath = join(work, 'ec.digest');
    const sigPath = join(work, 'ec.sig');
    writeFileSync(msgPath, msg);
    writeFileSync(digestPath, createHash('sha256').update(msg).digest());
    const v1 = shown['ec-p256'].versions[0];
    const r = pkcs11Tool(home, ['--sign', '--mechanism', 'ECDSA', '--id', v1.ckaId, '-i', digestPath, '-o', sigPath]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(sigPath)).toHaveLength(64);
    expect(ok(run(['verify', alias('ec-p256'), '--in', msgPath, '--signature', sigPath, '--format', 'raw', '--version', '1'])).valid).toBe(true);
    expect(run(['verify', alias('ec-p256'), '--in', msgPath, '--signature', sigPath, '--format', 'raw', '--version', '2']).code).toBe(1);
  });
});
