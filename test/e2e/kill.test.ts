// Kill tests (SPEC section 9): each step of create, rotate, delete, restore and purge is cut short by
// SIGKILL at a test-only fault point (KMSCTL_TEST_FAULT). Then doctor must report what the kill left
// (exit 1 while an intent is pending, exit 0 when the kill came after the ledger was complete), and
// doctor --repair must leave ledger and token agreeing: no pending intent, no version lost, no
// orphan on the token, the audit chain unbroken, and every blob wrapped before still unwrapping.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import {
  auditRows,
  cj,
  cli,
  expectChainContinuous,
  fails,
  intentCount,
  killed,
  ledgerVersions,
  ok,
  readLedger,
  sqlite,
  tokenKeys,
  type Run,
} from '../helpers/lifecycle.js';

const homes: string[] = [];

beforeAll(() => {
  softHsmModule();
});

afterEach(() => {
  while (homes.length) removeDir(homes.pop()!);
});

interface Blob {
  blob: string;
  plaintext: string;
  context: string[];
}

interface World {
  home: string;
  blobs: Blob[];
}

/** A home with key "base" at v2 and blobs under both versions, one of them with a context. */
function world(): World {
  const home = initHome();
  homes.push(home);
  ok(cj(home, ['create', 'base', '--spec', 'aes-256']));
  const blobs: Blob[] = [];
  const wrap = (plaintext: string, context: string[] = []) => {
    const args = ['wrap', 'base', ...context.flatMap((c) => ['--context', c])];
    blobs.push({ blob: ok(cj(home, args, { input: plaintext })).blob, plaintext, context });
  };
  wrap('under v1');
  ok(cj(home, ['rotate', 'base']));
  wrap('under v2 with context', ['tenant=acme']);
  return { home, blobs };
}

function faulted(home: string, point: string, args: string[]): Run {
  const r = cli(home, [...args, '--json'], { env: { KMSCTL_TEST_FAULT: point } });
  killed(r);
  return r;
}

/** doctor --json right after the kill. */
function doctorFindings(home: string, pending: boolean): any[] {
  const r = cj(home, ['doctor']);
  if (!pending) {
    expect(ok(r)).toEqual({ ok: true, findings: [], clean: true });
    return [];
  }
  const e = fails(r, 1, 'doctor-findings');
  expect(e.hint).toBe('kmsctl doctor --repair');
  return r.json.findings as any[];
}

function unwrapsAll(home: string, blobs: Blob[]): void {
  for (const b of blobs) {
    const d = ok(cj(home, ['unwrap', ...b.context.flatMap((c) => ['--context', c])], { input: b.blob }));
    expect(Buffer.from(d.plaintext, 'base64').toString('utf8')).toBe(b.plaintext);
  }
}

/** Version numbers a rolled-back rotation gave up, per alias, as the ledger records them. */
function rolledBack(home: string): Map<string, number[]> {
  const rows = readLedger(home, (db) => db.prepare('SELECT k.alias, r.version FROM rolled_back_versions r JOIN keys k ON k.id = r.key_id ORDER BY r.version').all() as Array<{ alias: string; version: number }>);
  const out = new Map<string, number[]>();
  for (const r of rows) out.set(r.alias, [...(out.get(r.alias) ?? []), r.version]);
  return out;
}

/**
 * Ledger and token agree: no intent, every key's versions and rolled-back numbers together are 1..N,
 * the highest version is primary, every live version has exactly its objects on the token, and no
 * object with a kmsctl label lacks a live version.
 */
function expectConsistent(home: string): void {
  expect(intentCount(home)).toBe(0);
  const keys = readLedger(home, (db) => db.prepare('SELECT id, alias, spec, primary_version AS primaryVersion FROM keys').all() as Array<{ id: string; alias: string; spec: string; primaryVersion: number }>);
  const versions = ledgerVersions(home);
  const given = rolledBack(home);
  for (const k of keys) {
    const vs = versions.filter((v) => v.alias === k.alias).map((v) => v.version);
    const all = [...vs, ...(given.get(k.alias) ?? [])].sort((a, b) => a - b);
    expect(all, `versions and rolled-back numbers of ${k.alias}`).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(k.primaryVersion, `primary of ${k.alias}`).toBe(Math.max(...vs));
  }
  const objects = tokenKeys(home);
  const live = new Map(versions.filter((v) => v.state !== 'destroyed').map((v) => [v.ckaId, v]));
  const specOf = new Map(keys.map((k) => [k.alias, k.spec]));
  for (const v of live.values()) {
    const classes = objects
      .filter((o) => o.id === v.ckaId)
      .map((o) => o.cls)
      .sort();
    const want = specOf.get(v.alias)!.startsWith('aes') || specOf.get(v.alias)!.startsWith('hmac') ? ['secret'] : ['private', 'public'];
    expect(classes, `${v.alias} v${v.version} on the token`).toEqual(want);
    for (const o of objects.filter((x) => x.id === v.ckaId)) expect(o.label).toBe(`${v.alias}/v${v.version}`);
  }
  const orphans = objects.filter((o) => /\/v\d+$/.test(o.label) && !live.has(o.id));
  expect(orphans, 'objects with a kmsctl label and no live ledger version').toEqual([]);
  expectChainContinuous(auditRows(home));
}

/** doctor --repair --yes repairs everything it found and exits 0; a second doctor finds nothing. */
function repairAndCheck(home: string, blobs: Blob[]): any[] {
  const r = ok(cj(home, ['doctor', '--repair', '--yes']));
  for (const f of r.findings) expect(f.repaired, JSON.stringify(f)).toEqual(expect.any(String));
  expect(ok(cj(home, ['doctor']))).toEqual({ ok: true, findings: [], clean: true });
  expectConsistent(home);
  unwrapsAll(home, blobs);
  return r.findings;
}

const objectsOf = (home: string, label: string) => tokenKeys(home).filter((o) => o.label === label);

describe('create', () => {
  it('killed after its intent: doctor reports the interrupted create; repair rolls it back and the alias is free again', () => {
    const w = world();
    faulted(w.home, 'create:after-intent', ['create', 'fresh', '--spec', 'ec-p256']);
    const f = doctorFindings(w.home, true);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'pending-intent', alias: 'fresh', version: 1 });
    expect(f[0].message).toMatch(/^create of fresh v1 was interrupted at \S+ \(process \d+ is gone\)$/);
    expect(objectsOf(w.home, 'fresh/v1')).toEqual([]);

    const repaired = repairAndCheck(w.home, w.blobs);
    expect(repaired[0].repaired).toContain('rolled back the create');
    expect(ok(cj(w.home, ['list'])).keys.map((k: any) => k.alias)).toEqual(['base']);
    ok(cj(w.home, ['create', 'fresh', '--spec', 'ec-p256']));
    expectConsistent(w.home);
  });

  it('killed after generating on the token: repair completes the create with the public key the token holds', () => {
    const w = world();
    faulted(w.home, 'create:after-generate', ['create', 'fresh', '--spec', 'ec-p256']);
    const f = doctorFindings(w.home, true);
    expect(f.map((x) => x.kind)).toEqual(['pending-intent']);
    expect(f[0]).toMatchObject({ alias: 'fresh', version: 1 });
    expect(objectsOf(w.home, 'fresh/v1').map((o) => o.cls).sort()).toEqual(['private', 'public']);

    const repaired = repairAndCheck(w.home, w.blobs);
    expect(repaired[0].repaired).toContain('completed the create');
    const s = ok(cj(w.home, ['show', 'fresh'])).key;
    expect(s).toMatchObject({ state: 'enabled', primaryVersion: 1, spec: 'ec-p256' });
    // The ledger's public key is the token's: a signature made on the token verifies offline.
    const sig = ok(cj(w.home, ['sign', 'fresh'], { input: 'payload' })).signature as string;
    writeFileSync(join(w.home, 'payload'), 'payload');
    writeFileSync(join(w.home, 'payload.sig'), sig);
    expect(ok(cj(w.home, ['verify', 'fresh', '--in', join(w.home, 'payload'), '--signature', join(w.home, 'payload.sig')]))).toMatchObject({ valid: true, version: 1 });
  });

  it('killed after the ledger was complete: doctor finds nothing and the key works', () => {
    const w = world();
    faulted(w.home, 'create:after-ledger', ['create', 'fresh', '--spec', 'aes-256']);
    doctorFindings(w.home, false);
    expect(ok(cj(w.home, ['show', 'fresh'])).key).toMatchObject({ state: 'enabled', primaryVersion: 1 });
    expectConsistent(w.home);
    const blob = ok(cj(w.home, ['wrap', 'fresh'], { input: 'new key works' })).blob;
    unwrapsAll(w.home, [...w.blobs, { blob, plaintext: 'new key works', context: [] }]);
  });
});

describe('rotate', () => {
  it('killed after its intent: repair rolls back, the versions stay 1..2, v3 is never reused and show says why it is missing', () => {
    const w = world();
    faulted(w.home, 'rotate:after-intent', ['rotate', 'base']);
    const f = doctorFindings(w.home, true);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'pending-intent', alias: 'base', version: 3 });
    expect(f[0].message).toContain('rotate of base v3 was interrupted');

    const repaired = repairAndCheck(w.home, w.blobs)[0];
    expect(repaired.repaired).toBe('rolled back the rotate: nothing was lost, it never completed; version 3 stays unused');
    expect(repaired.action).toBe('rolled-back-rotate');
    expect(ledgerVersions(w.home, 'base').map((v) => v.version)).toEqual([1, 2]);
    // A version number is never handed out twice: the next rotation is v4.
    expect(ok(cj(w.home, ['rotate', 'base'])).version).toBe(4);
    expect(ledgerVersions(w.home, 'base').map((v) => v.version)).toEqual([1, 2, 4]);
    const shown = ok(cj(w.home, ['show', 'base'])).key;
    expect(shown.primaryVersion).toBe(4);
    expect(shown.unusedVersions).toEqual([{ version: 3, why: 'rolled-back', at: expect.any(String), reason: expect.stringMatching(/^rotate rolled back: interrupted at \S+; rolled back by doctor --repair$/) }]);
    expect(cli(w.home, ['show', 'base']).stdout).toMatch(/^unused version numbers \(never reused\): v3 rolled back \S+$/m);
    // The rollback is on the key's own audit history.
    const recs = ok(cj(w.home, ['audit', '--key', 'base'])).records as any[];
    expect(recs.filter((r) => r.command === 'doctor-repair').map((r) => [r.version, r.details.action])).toEqual([[3, 'rolled-back-rotate']]);
    expectConsistent(w.home);
    unwrapsAll(w.home, w.blobs);
  });

  it('killed after its intent while later rotations went through: repair rolls back v3 and the primary stays the newest', () => {
    const w = world();
    faulted(w.home, 'rotate:after-intent', ['rotate', 'base']);
    expect(ok(cj(w.home, ['rotate', 'base'])).version).toBe(4);
    expect(ok(cj(w.home, ['rotate', 'base'])).version).toBe(5);
    repairAndCheck(w.home, w.blobs);
    expect(ledgerVersions(w.home, 'base').map((v) => v.version)).toEqual([1, 2, 4, 5]);
    const shown = ok(cj(w.home, ['show', 'base'])).key;
    expect(shown.primaryVersion).toBe(5);
    expect(shown.unusedVersions.map((u: any) => [u.version, u.why])).toEqual([[3, 'rolled-back']]);
  });

  it('killed after generating on the token: repair completes the rotation and v3 becomes primary', () => {
    const w = world();
    faulted(w.home, 'rotate:after-generate', ['rotate', 'base']);
    const f = doctorFindings(w.home, true);
    expect(f.map((x) => x.kind)).toEqual(['pending-intent']);
    expect(f[0]).toMatchObject({ alias: 'base', version: 3 });
    expect(objectsOf(w.home, 'base/v3')).toHaveLength(1);

    const before = ok(cj(w.home, ['show', 'base'])).key.lastRotatedAt;
    expect(repairAndCheck(w.home, w.blobs)[0].repaired).toBe('completed the rotate: version 3 is in the ledger and is primary (was 2)');
    const after = ok(cj(w.home, ['show', 'base'])).key;
    expect(after.primaryVersion).toBe(3);
    // It became primary only now: that is when the key was rotated.
    expect(Date.parse(after.lastRotatedAt)).toBeGreaterThan(Date.parse(before));
    const d = ok(cj(w.home, ['wrap', 'base'], { input: 'under v3' }));
    expect(d.version).toBe(3);
    unwrapsAll(w.home, [...w.blobs, { blob: d.blob, plaintext: 'under v3', context: [] }]);
  });

  it('killed after generating, then rotated again: repair adds v3 as an older version, v4 stays primary, the rotation time stays, and the audit of the key shows v3', () => {
    const w = world();
    faulted(w.home, 'rotate:after-generate', ['rotate', 'base']);
    const r4 = ok(cj(w.home, ['rotate', 'base']));
    expect(r4).toMatchObject({ version: 4, previousPrimary: 2, primaryVersion: 4, becamePrimary: true });
    const before = ok(cj(w.home, ['show', 'base'])).key;
    expect(before.unusedVersions.map((u: any) => [u.version, u.why])).toEqual([[3, 'in-progress']]);
    const wrapped4 = ok(cj(w.home, ['wrap', 'base'], { input: 'under v4' }));
    expect(wrapped4.version).toBe(4);

    const f = repairAndCheck(w.home, [...w.blobs, { blob: wrapped4.blob, plaintext: 'under v4', context: [] }]);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'pending-intent', version: 3, action: 'completed-rotate' });
    expect(f[0].repaired).toBe("completed the rotate: version 3 is in the ledger as an older version; version 4, from a later rotation, stays primary and the key's last rotation time is unchanged");
    const after = ok(cj(w.home, ['show', 'base'])).key;
    expect(after.primaryVersion).toBe(4);
    expect(after.lastRotatedAt).toBe(before.lastRotatedAt);
    expect(after.unusedVersions).toEqual([]);
    expect(after.versions.map((v: any) => [v.version, v.state, v.primary])).toEqual([[1, 'enabled', false], [2, 'enabled', false], [3, 'enabled', false], [4, 'enabled', true]]);
    expect(ok(cj(w.home, ['wrap', 'base'], { input: 'x' })).version).toBe(4);

    // One record per repair, against the key and the version it completed, next to the overall doctor record.
    const recs = ok(cj(w.home, ['audit', '--key', 'base'])).records as any[];
    const rep = recs.filter((r) => r.command === 'doctor-repair');
    expect(rep).toHaveLength(1);
    expect(rep[0]).toMatchObject({ alias: 'base', version: 3, outcome: 'success' });
    expect(rep[0].details).toMatchObject({ finding: 'pending-intent', action: 'completed-rotate', primary: 4, becamePrimary: false });
    const overall = (ok(cj(w.home, ['audit', '--action', 'doctor'])).records as any[]).filter((r) => r.details.repair === true);
    expect(overall.map((r) => r.details)).toEqual([{ repair: true, findings: 1, repaired: 1 }]);
  });

  it('killed after the ledger was complete: doctor finds nothing and v3 is primary', () => {
    const w = world();
    faulted(w.home, 'rotate:after-ledger', ['rotate', 'base']);
    doctorFindings(w.home, false);
    expect(ledgerVersions(w.home, 'base').map((v) => v.version)).toEqual([1, 2, 3]);
    expect(ok(cj(w.home, ['show', 'base'])).key.primaryVersion).toBe(3);
    expectConsistent(w.home);
    unwrapsAll(w.home, w.blobs);
  });
});

describe('delete', () => {
  it('killed after the ledger was updated (key and version): doctor finds nothing, restore brings everything back', () => {
    const w = world();
    faulted(w.home, 'delete:after-ledger', ['delete', 'base', '--yes', '--force']);
    doctorFindings(w.home, false);
    expect(ok(cj(w.home, ['show', 'base'])).key.state).toBe('pending-deletion');
    expectConsistent(w.home);
    ok(cj(w.home, ['restore', 'base', '--enable']));
    unwrapsAll(w.home, w.blobs);

    faulted(w.home, 'delete:after-ledger', ['delete', 'base', '--version', '1', '--yes', '--force']);
    doctorFindings(w.home, false);
    expect(ledgerVersions(w.home, 'base').map((v) => v.state)).toEqual(['pending-destruction', 'enabled']);
    expect(repairAndCheck(w.home, [])).toEqual([]);
    ok(cj(w.home, ['restore', 'base', '--version', '1', '--enable']));
    unwrapsAll(w.home, w.blobs);
  });
});

describe('restore', () => {
  it('killed after the ledger was updated: doctor finds nothing and the key is back, disabled', () => {
    const w = world();
    ok(cj(w.home, ['delete', 'base', '--yes', '--force']));
    faulted(w.home, 'restore:after-ledger', ['restore', 'base']);
    doctorFindings(w.home, false);
    expect(ok(cj(w.home, ['show', 'base'])).key).toMatchObject({ state: 'disabled', destroyAfter: null });
    expectConsistent(w.home);
    ok(cj(w.home, ['enable', 'base']));
    unwrapsAll(w.home, w.blobs);
  });
});

describe('purge', () => {
  /** A second key, "doomed", at v2, scheduled for deletion with its deadline moved into the past. */
  function doomed(w: World): string[] {
    ok(cj(w.home, ['create', 'doomed', '--spec', 'aes-256']));
    ok(cj(w.home, ['rotate', 'doomed']));
    ok(cj(w.home, ['delete', 'doomed', '--window', '7d', '--yes']));
    sqlite(w.home, "UPDATE keys SET destroy_after = '2020-01-01T00:00:00.000Z' WHERE alias = 'doomed'");
    return ledgerVersions(w.home, 'doomed').map((v) => v.ckaId);
  }

  /** The purge that the kill interrupted finishes: v2 goes too, and the key is a tombstone. */
  function finish(w: World, ids: string[]): void {
    const d = ok(cj(w.home, ['purge', '--yes']));
    expect(d.destroyed.map((x: any) => `${x.alias} v${x.version}`)).toEqual(['doomed v2']);
    expect(ok(cj(w.home, ['show', 'doomed'])).key.state).toBe('destroyed');
    expect(ledgerVersions(w.home, 'doomed').map((v) => [v.version, v.state])).toEqual([
      [1, 'destroyed'],
      [2, 'destroyed'],
    ]);
    expect(tokenKeys(w.home).filter((o) => ids.includes(o.id))).toEqual([]);
    expect(ok(cj(w.home, ['doctor']))).toEqual({ ok: true, findings: [], clean: true });
    expectConsistent(w.home);
    unwrapsAll(w.home, w.blobs);
  }

  it('killed after its intent: doctor reports the purge; repair completes it (the window had passed)', () => {
    const w = world();
    const ids = doomed(w);
    faulted(w.home, 'purge:after-intent', ['purge', '--yes']);
    const f = doctorFindings(w.home, true);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ kind: 'pending-intent', alias: 'doomed', version: 1, ckaId: ids[0] });
    expect(f[0].message).toContain('purge of doomed v1 was interrupted');
    expect(tokenKeys(w.home).filter((o) => o.id === ids[0])).toHaveLength(1);

    expect(repairAndCheck(w.home, w.blobs)[0].repaired).toBe('completed the purge (1 object destroyed now)');
    expect(ledgerVersions(w.home, 'doomed').map((v) => v.state)).toEqual(['destroyed', 'enabled']);
    finish(w, ids);
  });

  it('killed after destroying on the token: doctor reports only the interrupted purge; repair completes the ledger', () => {
    const w = world();
    const ids = doomed(w);
    faulted(w.home, 'purge:after-destroy', ['purge', '--yes']);
    expect(tokenKeys(w.home).filter((o) => o.id === ids[0])).toEqual([]);
    const f = doctorFindings(w.home, true);
    // The object is gone because the purge destroyed it: that is the pending purge, not a lost key.
    expect(f.map((x) => x.kind)).toEqual(['pending-intent']);
    expect(f[0]).toMatchObject({ alias: 'doomed', version: 1, ckaId: ids[0] });

    expect(repairAndCheck(w.home, w.blobs)[0].repaired).toBe('completed the purge (0 objects destroyed now)');
    expect(ledgerVersions(w.home, 'doomed').map((v) => v.state)).toEqual(['destroyed', 'enabled']);
    finish(w, ids);
  });

  it('killed after the ledger was complete: doctor finds nothing; the next purge takes the rest', () => {
    const w = world();
    const ids = doomed(w);
    faulted(w.home, 'purge:after-ledger', ['purge', '--yes']);
    doctorFindings(w.home, false);
    expect(ledgerVersions(w.home, 'doomed').map((v) => v.state)).toEqual(['destroyed', 'enabled']);
    expect(tokenKeys(w.home).filter((o) => o.id === ids[0])).toEqual([]);
    expectConsistent(w.home);
    finish(w, ids);
  });
});
