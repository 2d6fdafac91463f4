// doctor against a token that "someone else" changed behind kmsctl's back: pkcs11-tool makes orphans
// with kmsctl-style labels, deletes a version's object and plants a second object under a version's
// CKA_ID; a pkcs11js script (pkcs11-tool cannot change attributes) adds usage flags. doctor must name
// each with its kind and exit 1; --repair puts attributes back, removes orphans only with --yes, and
// never destroys an object that a ledger version names.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

// A version's object whose CKA_ID someone changed (pkcs11-tool --set-id) is still that version's key
// material: doctor must recognise it by its label, class and key type, and --repair must give it its
// CKA_ID back, never destroy it as an orphan. Objects that only carry a live version's label are
// reported and left alone.
describe('doctor and a CKA_ID changed behind kmsctl\'s back', () => {
  let h: string;
  const ids = { v1: '', v2: '', sign: '' };
  let blob1: string;
  let blob2: string;

  const toolIn = (args: string[]) => {
    const r = pkcs11Tool(h, args);
    expect(r.code, `pkcs11-tool ${args.join(' ')}\n${r.stderr}`).toBe(0);
  };
  const labelled = (label: string) => tokenKeys(h).filter((o) => o.label === label).map((o) => `${o.cls} ${o.id}`).sort();
  const unwrapsTo = (blob: string, text: string) => expect(Buffer.from(ok(cj(h, ['unwrap'], { input: blob })).plaintext, 'base64').toString()).toBe(text);

  beforeAll(() => {
    h = initHome();
    ok(cj(h, ['create', 'drift', '--spec', 'aes-256']));
    blob1 = ok(cj(h, ['wrap', 'drift'], { input: 'wrapped under v1 before the tampering' })).blob;
    ok(cj(h, ['rotate', 'drift']));
    blob2 = ok(cj(h, ['wrap', 'drift'], { input: 'under v2' })).blob;
    ok(cj(h, ['create', 'signd', '--spec', 'ec-p256']));
    const v = ledgerVersions(h);
    ids.v1 = v.find((x) => x.alias === 'drift' && x.version === 1)!.ckaId;
    ids.v2 = v.find((x) => x.alias === 'drift' && x.version === 2)!.ckaId;
    ids.sign = v.find((x) => x.alias === 'signd')!.ckaId;
  });

  afterAll(() => {
    if (h) removeDir(h);
  });

  it('reports one moved-id finding, not a missing object and an orphan; --repair sets the CKA_ID back and the old blob unwraps', () => {
    toolIn(['--type', 'secrkey', '--id', ids.v1, '--set-id', '00']);
    expect(labelled('drift/v1')).toEqual(['secret 00']);
    fails(cj(h, ['unwrap'], { input: blob1 }), 66, 'token-object-missing');

    const r = cj(h, ['doctor']);
    fails(r, 1, 'doctor-findings');
    expect(r.json.findings).toEqual([
      {
        kind: 'moved-id',
        message: `drift v1 (enabled): its secret key object now has CKA_ID 00 instead of ${ids.v1} (label, class and key type match)`,
        keyId: expect.stringMatching(/^k_/),
        alias: 'drift',
        version: 1,
        ckaId: ids.v1,
        object: { cls: 'secret', label: 'drift/v1', ckaId: '00' },
      },
    ]);

    const before = tokenKeys(h).length;
    const fixed = ok(cj(h, ['doctor', '--repair', '--yes']));
    expect(fixed.findings).toHaveLength(1);
    expect(fixed.findings[0]).toMatchObject({ kind: 'moved-id', action: 'restored-cka-id', repaired: `set its CKA_ID back to ${ids.v1}: drift v1 works again` });
    // Nothing was destroyed: the one copy of v1 has its CKA_ID back.
    expect(tokenKeys(h)).toHaveLength(before);
    expect(labelled('drift/v1')).toEqual([`secret ${ids.v1}`]);
    expect(ok(cj(h, ['doctor']))).toEqual({ ok: true, findings: [], clean: true });
    unwrapsTo(blob1, 'wrapped under v1 before the tampering');
    unwrapsTo(blob2, 'under v2');

    // The repair is on the key's own audit history, with what was done.
    const recs = ok(cj(h, ['audit', '--key', 'drift'])).records as any[];
    const rep = recs.filter((x) => x.command === 'doctor-repair');
    expect(rep).toHaveLength(1);
    expect(rep[0]).toMatchObject({ alias: 'drift', version: 1, outcome: 'success' });
    expect(rep[0].details).toMatchObject({ finding: 'moved-id', action: 'restored-cka-id', from: '00', to: ids.v1, ckaId: ids.v1 });
  });

  it('a key pair: both halves moved, plus an impostor public key with the same label; only the real ones get their CKA_ID back', () => {
    toolIn(['--type', 'privkey', '--id', ids.sign, '--set-id', '01']);
    toolIn(['--type', 'pubkey', '--id', ids.sign, '--set-id', '02']);
    // An impostor: another P-256 key pair labelled signd/v1, its private half removed.
    toolIn(['--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'signd/v1', '--id', '0e0e']);
    toolIn(['--delete-object', '--type', 'privkey', '--id', '0e0e']);
    expect(labelled('signd/v1')).toEqual(['private 01', 'public 02', 'public 0e0e']);

    const r = cj(h, ['doctor']);
    fails(r, 1, 'doctor-findings');
    const got = (r.json.findings as any[]).map((f) => [f.kind, f.object?.cls, f.object?.ckaId]).sort();
    expect(got).toEqual([
      ['label-mismatch', 'public', '0e0e'],
      ['moved-id', 'private', '01'],
      ['moved-id', 'public', '02'],
    ]);
    const mismatch = (r.json.findings as any[]).find((f) => f.kind === 'label-mismatch');
    expect(mismatch.message).toBe('token public object "signd/v1" (CKA_ID 0e0e) carries the label of signd v1, but its public key is not the one the ledger holds for that version: it is not that version\'s object');

    const fixed = cj(h, ['doctor', '--repair', '--yes']);
    fails(fixed, 1, 'doctor-findings');
    const byKind = (k: string) => (fixed.json.findings as any[]).filter((f) => f.kind === k);
    expect(byKind('moved-id').map((f) => f.action)).toEqual(['restored-cka-id', 'restored-cka-id']);
    expect(byKind('label-mismatch')[0].left).toContain('never destroys it');
    expect(labelled('signd/v1')).toEqual([`private ${ids.sign}`, `public ${ids.sign}`, 'public 0e0e'].sort());

    // The real private key signs again, and the ledger's public key verifies it.
    writeFileSync(join(h, 'msg'), 'signed after the repair');
    ok(cj(h, ['sign', 'signd', '--in', join(h, 'msg'), '--out', join(h, 'sig')]));
    expect(ok(cj(h, ['verify', 'signd', '--in', join(h, 'msg'), '--signature', join(h, 'sig')])).valid).toBe(true);
    toolIn(['--delete-object', '--type', 'pubkey', '--id', '0e0e']);
    expect(ok(cj(h, ['doctor']))).toEqual({ ok: true, findings: [], clean: true });
  });

  it('a second object with a live version\'s label while that version\'s own object is present is a duplicate label: reported, never destroyed', () => {
    toolIn(['--keygen', '--key-type', 'AES:32', '--label', 'drift/v2', '--id', '0d0d']);
    const r = cj(h, ['doctor']);
    fails(r, 1, 'doctor-findings');
    expect(r.json.findings).toEqual([
      expect.objectContaining({
        kind: 'duplicate-label',
        alias: 'drift',
        version: 2,
        ckaId: ids.v2,
        object: { cls: 'secret', label: 'drift/v2', ckaId: '0d0d' },
        message: `token secret object "drift/v2" (CKA_ID 0d0d) carries the label of drift v2, whose own secret object (CKA_ID ${ids.v2}) is on the token too: a copy or an impostor`,
      }),
    ]);
    const rep = cj(h, ['doctor', '--repair', '--yes']);
    fails(rep, 1, 'doctor-findings');
    expect(rep.json.findings[0].repaired).toBeUndefined();
    expect(rep.json.findings[0].left).toContain('never destroys it');
    expect(labelled('drift/v2')).toEqual(['secret 0d0d', `secret ${ids.v2}`].sort());
    unwrapsTo(blob2, 'under v2');
  });

  it('two objects claiming one missing version: kmsctl will not guess, and destroys neither', () => {
    toolIn(['--delete-object', '--type', 'secrkey', '--id', '0d0d']);
    toolIn(['--type', 'secrkey', '--id', ids.v2, '--set-id', 'aa']);
    toolIn(['--keygen', '--key-type', 'AES:32', '--label', 'drift/v2', '--id', 'bb']);
    const r = cj(h, ['doctor']);
    fails(r, 1, 'doctor-findings');
    const kinds = (r.json.findings as any[]).map((f) => `${f.kind} ${f.object?.ckaId ?? f.ckaId}`).sort();
    expect(kinds).toEqual(['duplicate-label aa', 'duplicate-label bb', `missing-object ${ids.v2}`]);
    const rep = cj(h, ['doctor', '--repair', '--yes']);
    fails(rep, 1, 'doctor-findings');
    expect((rep.json.findings as any[]).every((f) => f.repaired === undefined)).toBe(true);
    expect(labelled('drift/v2')).toEqual(['secret aa', 'secret bb']);

    // Once the operator removes the impostor, the real one is recognised and repaired.
    toolIn(['--delete-object', '--type', 'secrkey', '--id', 'bb']);
    const fixed = ok(cj(h, ['doctor', '--repair']));
    expect(fixed.findings.map((f: any) => [f.kind, f.action])).toEqual([['moved-id', 'restored-cka-id']]);
    unwrapsTo(blob2, 'under v2');
    unwrapsTo(blob1, 'wrapped under v1 before the tampering');
  });
});
