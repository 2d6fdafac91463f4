// Rotation keeps old blobs and signatures usable, and rewrap moves a blob to the primary version:
// through the built binary on a real SoftHSM token, with the blob header read independently and the
// use counts of each version followed step by step.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import { fails, kj, ok, parseBlob, tokenObjects } from '../helpers/e2e.js';

let home: string;
let work: string;
let keyId: string;

const run = (args: string[]) => kj(args, { home });
const file = (name: string, content: Buffer | string) => {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
};
const CTX = ['--context', 'tenant=acme', '--context', 'purpose=db'];

/** [version, primary, state, useCount, lastUsedBy] of every version of a key. */
function versions(alias: string): Array<[number, boolean, string, number, string | null]> {
  return ok(run(['show', alias])).key.versions.map((v: any) => [v.version, v.primary, v.state, v.useCount, v.lastUsedBy]);
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  keyId = ok(run(['create', 'rk', '--spec', 'aes-256'])).key.id;
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('rotate then rewrap', () => {
  const dek = randomBytes(32);
  let v1Blob: string;
  let v2Blob: string;

  it('a blob wrapped before the rotation names version 1', () => {
    const w = ok(run(['wrap', 'rk', '--in', file('dek', dek), ...CTX]));
    expect(w).toMatchObject({ keyId, alias: 'rk', version: 1 });
    v1Blob = w.blob;
    expect(parseBlob(v1Blob)).toMatchObject({ keyId, keyVersion: 1, ciphertextLength: 48 });
    expect(versions('rk')).toEqual([[1, true, 'enabled', 1, 'wrap']]);
  });

  it('rotate makes version 2 primary, on the token with its own CKA_ID', () => {
    expect(ok(run(['rotate', 'rk']))).toMatchObject({ ok: true, keyId, alias: 'rk', version: 2, previousPrimary: 1, primaryVersion: 2 });
    const k = ok(run(['show', 'rk'])).key;
    expect(k.primaryVersion).toBe(2);
    const labels = tokenObjects(home).filter((o) => o.label.startsWith('rk/')).map((o) => `${o.label} ${o.id}`).sort();
    expect(labels).toEqual([`rk/v1 ${k.versions[0].ckaId}`, `rk/v2 ${k.versions[1].ckaId}`]);
    expect(versions('rk')).toEqual([
      [1, false, 'enabled', 1, 'wrap'],
      [2, true, 'enabled', 0, null],
    ]);
  });

  it('the version 1 blob still unwraps after the rotation', () => {
    const u = ok(run(['unwrap', '--in', file('v1.blob', v1Blob), ...CTX]));
    expect(u).toMatchObject({ keyId, alias: 'rk', version: 1 });
    expect(Buffer.from(u.plaintext, 'base64').equals(dek)).toBe(true);
    expect(versions('rk')).toEqual([
      [1, false, 'enabled', 2, 'unwrap'],
      [2, true, 'enabled', 0, null],
    ]);
  });

  it('new wraps use version 2', () => {
    const w = ok(run(['wrap', 'rk', '--in', file('dek2', randomBytes(16))]));
    expect(w.version).toBe(2);
    expect(parseBlob(w.blob).keyVersion).toBe(2);
    expect(versions('rk').map((v) => v[3])).toEqual([2, 1]);
  });

  it('a rewrap without the context is refused and moves nothing', () => {
    const e = fails(run(['rewrap', '--in', file('v1.blob', v1Blob)]), 65, 'bad-data');
    expect(e.reason).toBe('context-mismatch');
    expect(versions('rk').map((v) => v[3])).toEqual([2, 1]);
  });

  it('rewrap moves the blob to version 2: JSON version field and the header agree', () => {
    const r = ok(run(['rewrap', '--in', file('v1.blob', v1Blob), ...CTX]));
    expect(r).toMatchObject({ keyId, alias: 'rk', fromVersion: 1, version: 2 });
    v2Blob = r.blob;
    const before = parseBlob(v1Blob);
    const after = parseBlob(v2Blob);
    expect(after).toMatchObject({ keyId, keyVersion: 2, ciphertextLength: 48 });
    // The same context, so the same fingerprint; a fresh IV and a different ciphertext.
    expect(after.fingerprint.equals(before.fingerprint)).toBe(true);
    expect(after.iv.equals(before.iv)).toBe(false);
    expect(after.ciphertext.equals(before.ciphertext)).toBe(false);
    expect(JSON.stringify(r)).not.toContain(dek.toString('base64'));
    // One use of each: version 1 decrypted, version 2 encrypted.
    expect(versions('rk')).toEqual([
      [1, false, 'enabled', 3, 'rewrap'],
      [2, true, 'enabled', 2, 'rewrap'],
    ]);
  });

  it('the rewrapped blob unwraps to the same plaintext with version 2', () => {
    const u = ok(run(['unwrap', '--in', file('v2.blob', v2Blob), ...CTX]));
    expect(u).toMatchObject({ keyId, version: 2 });
    expect(Buffer.from(u.plaintext, 'base64').equals(dek)).toBe(true);
    expect(versions('rk').map((v) => v[3])).toEqual([3, 3]);
  });

  it('rewrap of a blob already at the primary stays at that version', () => {
    const r = ok(run(['rewrap', '--in', file('v2.blob', v2Blob), ...CTX]));
    expect(r).toMatchObject({ fromVersion: 2, version: 2 });
    expect(parseBlob(r.blob).keyVersion).toBe(2);
    expect(r.blob).not.toBe(v2Blob);
    // A rewrap within one version counts as one use of it.
    expect(versions('rk').map((v) => v[3])).toEqual([3, 4]);
  });

  it('after a second rotation, a version 1 blob rewraps straight to version 3 and --out replaces the file', () => {
    expect(ok(run(['rotate', 'rk']))).toMatchObject({ version: 3, previousPrimary: 2, primaryVersion: 3 });
    const path = file('inplace.blob', `${v1Blob}\n`);
    const r = ok(run(['rewrap', '--in', path, '--out', path, ...CTX]));
    expect(r).toMatchObject({ fromVersion: 1, version: 3, out: path });
    const onDisk = readFileSync(path, 'utf8');
    expect(onDisk).toBe(`${r.blob}\n`);
    expect(parseBlob(onDisk).keyVersion).toBe(3);
    expect(Buffer.from(ok(run(['unwrap', '--in', path, ...CTX])).plaintext, 'base64').equals(dek)).toBe(true);
    const counts = versions('rk');
    expect(counts.map((v) => [v[0], v[1], v[3]])).toEqual([
      [1, false, 4],
      [2, false, 4],
      [3, true, 2],
    ]);
  });

  it('a data key made before a rotation rewraps to the new primary and keeps its plaintext', () => {
    const d = ok(run(['datakey', 'rk', '--bytes', '64', ...CTX]));
    expect(d.version).toBe(3);
    ok(run(['rotate', 'rk']));
    const r = ok(run(['rewrap', '--in', file('dk.blob', d.blob), ...CTX]));
    expect(r).toMatchObject({ fromVersion: 3, version: 4 });
    expect(parseBlob(r.blob)).toMatchObject({ keyVersion: 4, ciphertextLength: 64 + 16 });
    expect(ok(run(['unwrap', '--in', file('dk4.blob', r.blob), ...CTX])).plaintext).toBe(d.plaintext);
    expect(ok(run(['unwrap', '--in', file('dk3.blob', d.blob), ...CTX])).plaintext).toBe(d.plaintext);
  });
});

describe('signing and MAC keys keep verifying older versions', () => {
  it('a signature from version 1 verifies with --version 1 after a rotation, not with the new primary', () => {
    ok(run(['create', 'sk', '--spec', 'ec-p384']));
    const msg = file('sk.msg', randomBytes(300));
    const sig = join(work, 'sk.sig');
    expect(ok(run(['sign', 'sk', '--in', msg, '--out', sig])).version).toBe(1);
    ok(run(['rotate', 'sk']));
    const e = fails(run(['verify', 'sk', '--in', msg, '--signature', sig]), 1, 'check-failed');
    expect(e.reason).toBe('signature-invalid');
    expect(ok(run(['verify', 'sk', '--in', msg, '--signature', sig, '--version', '1']))).toMatchObject({ valid: true, version: 1, digest: 'sha384' });
    const sig2 = join(work, 'sk2.sig');
    expect(ok(run(['sign', 'sk', '--in', msg, '--out', sig2])).version).toBe(2);
    expect(ok(run(['verify', 'sk', '--in', msg, '--signature', sig2])).version).toBe(2);
    fails(run(['verify', 'sk', '--in', msg, '--signature', sig2, '--version', '1']), 1, 'check-failed');
  });
});
