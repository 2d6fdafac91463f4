// doctor against a token that "someone else" changed behind kmsctl's back: pkcs11-tool makes orphans
// with kmsctl-style labels, deletes a version's object and plants a second object under a version's
// CKA_ID; a pkcs11js script (pkcs11-tool cannot change attributes) adds usage flags. doctor must name
// each with its kind and exit 1; --repair puts attributes back, removes orphans only with --yes, and
// never destroys an object that a ledger version names.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import { cj, cli, describeRun, fails, ledgerVersions, ok, pkcs11Tool, tokenAttributes, tokenKeys } from '../helpers/lifecycle.js';

let home: string;
let blobV1: string;
let blobV2: string;
/** CKA_IDs (hex) of the versions the test tampers with. */
const id = { wrapV1: '', wrapV2: '', mac: '', sign: '' };
let extractableFlipped = false;

const ORPHAN_AES = '0a0b';
const ORPHAN_EC = '0c0d';
const FOREIGN = '0e0f';

function tool(args: string[]): void {
  const r = pkcs11Tool(home, args);
  expect(r.code, `pkcs11-tool ${args.join(' ')}\n${r.stderr}`).toBe(0);
}

function objects(ckaId: string): string[] {
  return tokenKeys(home)
    .filter((o) => o.id === ckaId)
    .map((o) => `${o.cls} ${o.label}`)
    .sort();
}

beforeAll(() => {
  softHsmModule();
  home = initHome();
  ok(cj(home, ['create', 'wrapk', '--spec', 'aes-256']));
  blobV1 = ok(cj(home, ['wrap', 'wrapk'], { input: 'under v1' })).blob;
  ok(cj(home, ['rotate', 'wrapk']));
  blobV2 = ok(cj(home, ['wrap', 'wrapk'], { input: 'under v2' })).blob;
  ok(cj(home, ['create', 'mack', '--spec', 'hmac-sha256']));
  ok(cj(home, ['create', 'signk', '--spec', 'ec-p256']));
  const v = ledgerVersions(home);
  const find = (alias: string, n: number) => v.find((x) => x.alias === alias && x.version === n)!.ckaId;
  Object.assign(id, { wrapV1: find('wrapk', 1), wrapV2: find('wrapk', 2), mac: find('mack', 1), sign: find('signk', 1) });
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('doctor', () => {
  it('finds nothing on a token only kmsctl has touched', () => {
    expect(ok(cj(home, ['doctor']))).toEqual({ ok: true, findings: [], clean: true });
    const plain = cli(home, ['doctor']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('ledger and token agree: nothing to report\n');
  });

  it('finds each change someone else made, with its kind, and exits 1', () => {
    // Orphans: kmsctl-style labels (alias/vN) that no ledger version names.
    tool(['--keygen', '--key-type', 'AES:32', '--label', 'foo/v9', '--id', ORPHAN_AES]);
    tool(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'signk/v7', '--id', ORPHAN_EC]);
    // Not kmsctl's at all: never reported, never touched.
    tool(['--keygen', '--key-type', 'AES:32', '--label', 'someone-elses-key', '--id', FOREIGN]);
    // A version's object deleted.
    tool(['--delete-object', '--type', 'secrkey', '--id', id.wrapV1]);
    // Usage flags added; CKA_EXTRACTABLE too where the token lets it change (SoftHSM does not: false -> true is read-only).
    const mac = tokenAttributes(home, 'secret', id.mac, { CKA_ENCRYPT: true });
    expect(mac).toMatchObject({ handles: 1, set: { CKA_ENCRYPT: 'ok' } });
    const sig = tokenAttributes(home, 'private', id.sign, { CKA_DECRYPT: true, CKA_EXTRACTABLE: true }, ['CKA_EXTRACTABLE']);
    expect(sig.set.CKA_DECRYPT).toBe('ok');
    extractableFlipped = sig.set.CKA_EXTRACTABLE === 'ok';
    if (!extractableFlipped) expect(sig).toMatchObject({ set: { CKA_EXTRACTABLE: 'CKR_ATTRIBUTE_READ_ONLY' }, get: { CKA_EXTRACTABLE: false } });
    // A second object under a version's CKA_ID.
    tool(['--keygen', '--key-type', 'AES:32', '--label', 'impostor', '--id', id.wrapV2]);
    expect(objects(id.wrapV2)).toEqual(['secret impostor', 'secret wrapk/v2']);

    const r = cj(home, ['doctor']);
    const e = fails(r, 1, 'doctor-findings');
    const findings = r.json.findings as any[];
    expect(e.message).toBe(`doctor found ${findings.length} problems`);
    expect(JSON.stringify(findings)).not.toContain(FOREIGN);
    expect(JSON.stringify(findings)).not.toContain('someone-elses-key');

    const byKind = (kind: string) => findings.filter((f) => f.kind === kind);
    expect(byKind('orphan').map((f) => [f.ckaId, f.message]).sort()).toEqual([
      [ORPHAN_AES, `token secret object "foo/v9" (CKA_ID ${ORPHAN_AES}) carries a kmsctl label but no ledger version names it`],
      [ORPHAN_EC, `token private object "signk/v7" (CKA_ID ${ORPHAN_EC}) carries a kmsctl label but no ledger version names it`],
      [ORPHAN_EC, `token public object "signk/v7" (CKA_ID ${ORPHAN_EC}) carries a kmsctl label but no ledger version names it`],
    ]);
    expect(byKind('missing-object')).toEqual([
      expect.objectContaining({ alias: 'wrapk', version: 1, ckaId: id.wrapV1, message: 'wrapk v1 (enabled): its secret key object is missing from the token' }),
    ]);
    expect(byKind('duplicate-id')).toEqual([expect.objectContaining({ ckaId: id.wrapV2 })]);
    expect(byKind('duplicate-id')[0].message).toMatch(/^2 secret objects share CKA_ID [0-9a-f]+ \(labels (wrapk\/v2, impostor|impostor, wrapk\/v2)\)/);
    // Drift on kmsctl's own objects only: under a duplicated CKA_ID kmsctl cannot tell which object it made.
    const drift = byKind('attribute-drift').sort((a, b) => a.alias.localeCompare(b.alias));
    expect(drift.map((f) => [f.alias, f.version, f.message])).toEqual([
      ['mack', 1, 'mack v1 secret object: CKA_ENCRYPT is true (kmsctl set false)'],
      ['signk', 1, `signk v1 private object: ${extractableFlipped ? 'CKA_EXTRACTABLE is true (kmsctl set false), ' : ''}CKA_DECRYPT is true (kmsctl set false)`],
    ]);
    expect(findings.every((f) => f.repaired === undefined && f.left === undefined)).toBe(true);

    // For a person: one line per finding on stderr, then the one error line.
    const plain = cli(home, ['doctor']);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toBe('');
    const lines = plain.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(findings.length + 1);
    for (const f of findings) expect(lines).toContain(`${f.kind}: ${f.message}`);
    expect(lines.at(-1)).toBe(`kmsctl: doctor found ${findings.length} problems (kmsctl doctor --repair)`);
  });

  it('the broken versions refuse to guess: a duplicate CKA_ID is exit 65, a missing object exit 66', () => {
    fails(cj(home, ['wrap', 'wrapk'], { input: 'x' }), 65, 'duplicate-cka-id');
    fails(cj(home, ['unwrap'], { input: blobV2 }), 65, 'duplicate-cka-id');
    fails(cj(home, ['unwrap'], { input: blobV1 }), 66, 'token-object-missing');
    ok(cj(home, ['mac', 'mack'], { input: 'drift does not stop use' }));
  });

  it('--repair without --yes puts attributes back and leaves the orphans, saying so', () => {
    const r = cj(home, ['doctor', '--repair']);
    fails(r, 1, 'doctor-findings');
    expect(r.json.error.message).toMatch(/^doctor found \d+ problems? it could not repair$/);
    const findings = r.json.findings as any[];
    const orphans = findings.filter((f) => f.kind === 'orphan');
    expect(orphans).toHaveLength(3);
    for (const f of orphans) {
      expect(f.repaired).toBeUndefined();
      expect(f.left).toContain('--yes');
    }
    for (const f of findings.filter((x) => x.kind === 'attribute-drift')) expect(f.repaired).toBe('set the attributes back to what kmsctl made');
    expect(findings.find((f) => f.kind === 'missing-object').left).toContain('backup');
    expect(findings.find((f) => f.kind === 'duplicate-id').left).toContain('will not guess');
    expect(findings.filter((f) => f.kind === 'attribute-drift')).toHaveLength(2);

    expect(objects(ORPHAN_AES)).toEqual(['secret foo/v9']);
    expect(objects(ORPHAN_EC)).toEqual(['private signk/v7', 'public signk/v7']);
    expect(tokenAttributes(home, 'secret', id.mac, {}, ['CKA_ENCRYPT', 'CKA_SIGN', 'CKA_VERIFY']).get).toEqual({ CKA_ENCRYPT: false, CKA_SIGN: true, CKA_VERIFY: true });
    expect(tokenAttributes(home, 'private', id.sign, {}, ['CKA_DECRYPT', 'CKA_SIGN', 'CKA_EXTRACTABLE']).get).toEqual({ CKA_DECRYPT: false, CKA_SIGN: true, CKA_EXTRACTABLE: false });

    const again = cj(home, ['doctor']);
    fails(again, 1);
    expect((again.json.findings as any[]).map((f) => f.kind).sort()).toEqual(['duplicate-id', 'missing-object', 'orphan', 'orphan', 'orphan']);
  });

  it('--repair --yes removes the orphans, and never an object a ledger version names', () => {
    const named = new Set(ledgerVersions(home).map((v) => v.ckaId));
    const before = tokenKeys(home).filter((o) => named.has(o.id));

    const r = cj(home, ['doctor', '--repair', '--yes']);
    fails(r, 1, 'doctor-findings');
    const findings = r.json.findings as any[];
    const orphans = findings.filter((f) => f.kind === 'orphan');
    expect(orphans.map((f) => f.repaired).filter(Boolean).join('; ')).toMatch(/^destroyed \d+ orphan objects?/);
    for (const f of orphans) expect(f.left).toBeUndefined();
    expect(objects(ORPHAN_AES)).toEqual([]);
    expect(objects(ORPHAN_EC)).toEqual([]);
    expect(objects(FOREIGN)).toEqual(['secret someone-elses-key']);

    // Both objects under wrapk v2's CKA_ID stay: kmsctl cannot tell which is real.
    expect(tokenKeys(home).filter((o) => named.has(o.id))).toEqual(before);
    expect(objects(id.wrapV2)).toEqual(['secret impostor', 'secret wrapk/v2']);
    const left = findings.filter((f) => !f.repaired).map((f) => f.kind).sort();
    expect(left).toEqual(['duplicate-id', 'missing-object']);
  });

  it('once the operator removes the impostor, v2 works again and only the lost object is reported', () => {
    tool(['--delete-object', '--type', 'secrkey', '--label', 'impostor']);
    expect(objects(id.wrapV2)).toEqual(['secret wrapk/v2']);
    const d = ok(cj(home, ['unwrap'], { input: blobV2 }));
    expect(Buffer.from(d.plaintext, 'base64').toString()).toBe('under v2');

    const r = cj(home, ['doctor']);
    fails(r, 1, 'doctor-findings');
    expect((r.json.findings as any[]).map((f) => [f.kind, f.alias, f.version])).toEqual([['missing-object', 'wrapk', 1]]);
    expect(describeRun(r)).not.toContain('orphan');
  });
});
