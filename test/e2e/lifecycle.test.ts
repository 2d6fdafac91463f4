// The key lifecycle of SPEC section 4 through the built binary on a real SoftHSM token: every
// transition with its --json document and exit code, the refusals that name the state and the way
// back, the recent-use guard and its audit trail, and purge against a clock moved by editing the
// stored deadlines in ledger.db (there is no clock override), checked on the token with pkcs11-tool.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import { cj, cli, describeRun, fails, ledgerVersions, ok, readLedger, sqlite, tokenIndex, type Run } from '../helpers/lifecycle.js';

const DAY_MS = 86_400_000;
const PAST = '2020-01-01T00:00:00.000Z';

let home: string;

beforeAll(() => {
  softHsmModule();
  home = initHome();
});

afterAll(() => {
  if (home) removeDir(home);
});

function create(h: string, alias: string, spec = 'aes-256', extra: string[] = []): { id: string; alias: string } {
  return ok(cj(h, ['create', alias, '--spec', spec, ...extra])).key;
}

function wrap(h: string, alias: string, plaintext: string): string {
  const d = ok(cj(h, ['wrap', alias], { input: plaintext }));
  return d.blob as string;
}

function unwrapsTo(h: string, blob: string, plaintext: string): void {
  const d = ok(cj(h, ['unwrap'], { input: blob }));
  expect(Buffer.from(d.plaintext, 'base64').toString('utf8')).toBe(plaintext);
}

function showKey(h: string, alias: string): any {
  return ok(cj(h, ['show', alias])).key;
}

function versionOf(h: string, alias: string, n: number): any {
  return showKey(h, alias).versions.find((v: any) => v.version === n);
}

/** The deadline is now + window, give or take the time the command took. */
function expectDeadline(destroyAfter: string, windowDays: number, before: number, after: number): void {
  const t = Date.parse(destroyAfter);
  expect(t).toBeGreaterThanOrEqual(before + windowDays * DAY_MS);
  expect(t).toBeLessThanOrEqual(after + windowDays * DAY_MS);
}

function timed(fn: () => Run): { r: Run; before: number; after: number } {
  const before = Date.now();
  const r = fn();
  return { r, before, after: Date.now() };
}

describe('disable and enable', () => {
  it('a key goes enabled -> disabled -> enabled, and a repeat says it already was', () => {
    const k = create(home, 'de-key');
    const d = ok(cj(home, ['disable', 'de-key']));
    expect(d).toMatchObject({ keyId: k.id, alias: 'de-key', from: 'enabled', state: 'disabled' });
    expect(d.version).toBeUndefined();
    expect(showKey(home, 'de-key').state).toBe('disabled');

    const again = cli(home, ['disable', 'de-key']);
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.stdout).toBe('de-key was already disabled\n');

    expect(ok(cj(home, ['enable', k.id]))).toMatchObject({ from: 'disabled', state: 'enabled', alias: 'de-key' });
    expect(showKey(home, 'de-key').state).toBe('enabled');
  });

  it('a version can be disabled and enabled; a disabled version cannot unwrap its blobs until enabled', () => {
    create(home, 'dv-key');
    const blob = wrap(home, 'dv-key', 'secret-under-v1');
    ok(cj(home, ['rotate', 'dv-key']));

    expect(ok(cj(home, ['disable', 'dv-key', '--version', '1']))).toMatchObject({ alias: 'dv-key', version: 1, from: 'enabled', state: 'disabled' });
    expect(versionOf(home, 'dv-key', 1).state).toBe('disabled');
    expect(showKey(home, 'dv-key').state).toBe('enabled');

    const e = fails(cj(home, ['unwrap'], { input: blob }), 77, 'version-disabled');
    expect(e.message).toContain('version 1 of dv-key is disabled');
    expect(e.hint).toBe('enable it with kmsctl enable dv-key --version 1');

    expect(ok(cj(home, ['enable', 'dv-key', '--version', '1']))).toMatchObject({ version: 1, from: 'disabled', state: 'enabled' });
    unwrapsTo(home, blob, 'secret-under-v1');
  });

  it('the primary version cannot be disabled: exit 64 naming rotate', () => {
    create(home, 'dp-key');
    ok(cj(home, ['rotate', 'dp-key']));
    const e = fails(cj(home, ['disable', 'dp-key', '--version', '2']), 64, 'primary-version');
    expect(e.message).toContain('version 2 is the primary version of dp-key');
    expect(e.message).toContain('kmsctl rotate dp-key');
    expect(versionOf(home, 'dp-key', 2).state).toBe('enabled');
  });

  it('a key pending deletion can be neither disabled nor enabled: 77 naming restore', () => {
    create(home, 'dpend-key');
    ok(cj(home, ['delete', 'dpend-key', '--yes']));
    const e1 = fails(cj(home, ['disable', 'dpend-key']), 77, 'key-pending-deletion');
    expect(e1.message).toContain('pending-deletion');
    expect(e1.message).toContain('kmsctl restore dpend-key');
    const e2 = fails(cj(home, ['enable', 'dpend-key']), 77, 'key-pending-deletion');
    expect(e2.message).toContain('kmsctl restore dpend-key --enable');
    expect(showKey(home, 'dpend-key').state).toBe('pending-deletion');
  });

  it('an unknown key or version is exit 66', () => {
    fails(cj(home, ['disable', 'no-such-key']), 66, 'key-not-found');
    create(home, 'dv66-key');
    fails(cj(home, ['disable', 'dv66-key', '--version', '9']), 66, 'version-not-found');
  });
});

describe('delete', () => {
  it('schedules a key for deletion after the default 30-day window', () => {
    const k = create(home, 'del-default');
    const { r, before, after } = timed(() => cj(home, ['delete', 'del-default', '--yes']));
    const d = ok(r);
    expect(d).toMatchObject({ keyId: k.id, alias: 'del-default', from: 'enabled', state: 'pending-deletion', daysLeft: 30 });
    expectDeadline(d.destroyAfter, 30, before, after);
    const s = showKey(home, 'del-default');
    expect(s.state).toBe('pending-deletion');
    expect(s.destroyAfter).toBe(d.destroyAfter);
  });

  it("uses the key's own --deletion-window from create, and --window overrides it", () => {
    create(home, 'del-own', 'aes-256', ['--deletion-window', '10d']);
    expect(showKey(home, 'del-own').deletionWindowSeconds).toBe(10 * 86_400);
    const { r, before, after } = timed(() => cj(home, ['delete', 'del-own', '--yes']));
    const d = ok(r);
    expect(d.daysLeft).toBe(10);
    expectDeadline(d.destroyAfter, 10, before, after);

    create(home, 'del-own2', 'aes-256', ['--deletion-window', '10d']);
    const o = timed(() => cj(home, ['delete', 'del-own2', '--window', '21d', '--yes']));
    expect(ok(o.r).daysLeft).toBe(21);
    expectDeadline(o.r.json.destroyAfter, 21, o.before, o.after);
  });

  it('accepts --window at both ends of 7d..30d', () => {
    create(home, 'del-7');
    create(home, 'del-30');
    expect(ok(cj(home, ['delete', 'del-7', '--window', '7d', '--yes'])).daysLeft).toBe(7);
    expect(ok(cj(home, ['delete', 'del-30', '--window', '30d', '--yes'])).daysLeft).toBe(30);
  });

  it.each(['0', '-1', '31d', '6d', 'abc', '1y'])('--window %s is exit 64 naming the allowed range, and changes nothing', (w) => {
    const alias = `del-bad-${w.replace(/[^a-z0-9]/g, 'x')}`;
    create(home, alias);
    const e = fails(cj(home, ['delete', alias, '--window', w, '--yes']), 64);
    expect(e.message).toContain('--window');
    expect(e.message).toContain('7d..30d');
    expect(showKey(home, alias).state).toBe('enabled');
  });

  it('outside a TTY, delete without --yes is exit 64 naming --yes, and changes nothing', () => {
    create(home, 'del-noyes');
    const e = fails(cj(home, ['delete', 'del-noyes']), 64, 'confirmation-needed');
    expect(e.message).toContain('--yes');
    expect(showKey(home, 'del-noyes').state).toBe('enabled');
  });

  it('a key already pending deletion cannot be deleted again: 77 with the deadline and the undo', () => {
    create(home, 'del-twice');
    const first = ok(cj(home, ['delete', 'del-twice', '--yes']));
    const e = fails(cj(home, ['delete', 'del-twice', '--yes']), 77, 'key-pending-deletion');
    expect(e.message).toContain(first.destroyAfter);
    expect(e.message).toContain('30 days left');
    expect(e.hint).toBe('undo with kmsctl restore del-twice');
    expect(showKey(home, 'del-twice').destroyAfter).toBe(first.destroyAfter);
  });

  it('delete --version N schedules one old version; the key and its primary keep working', () => {
    create(home, 'delv-key');
    const oldBlob = wrap(home, 'delv-key', 'under-v1');
    ok(cj(home, ['rotate', 'delv-key']));
    // v1 was used by the wrap above: the recent-use guard needs --force (tested on its own below).
    const { r, before, after } = timed(() => cj(home, ['delete', 'delv-key', '--version', '1', '--window', '8d', '--yes', '--force']));
    const d = ok(r);
    expect(d).toMatchObject({ alias: 'delv-key', version: 1, from: 'enabled', state: 'pending-destruction', daysLeft: 8 });
    expectDeadline(d.destroyAfter, 8, before, after);

    const s = showKey(home, 'delv-key');
    expect(s.state).toBe('enabled');
    expect(s.destroyAfter).toBeNull();
    expect(s.versions.map((v: any) => [v.version, v.state, v.destroyAfter])).toEqual([
      [1, 'pending-destruction', d.destroyAfter],
      [2, 'enabled', null],
    ]);

    const e = fails(cj(home, ['unwrap'], { input: oldBlob }), 77, 'version-pending-destruction');
    expect(e.message).toContain('version 1 of delv-key is pending-destruction');
    expect(e.message).toContain('8 days left');
    expect(e.hint).toBe('restore it with kmsctl restore delv-key --version 1');
    unwrapsTo(home, wrap(home, 'delv-key', 'under-v2'), 'under-v2');

    const again = fails(cj(home, ['delete', 'delv-key', '--version', '1', '--yes', '--force']), 77, 'version-pending-destruction');
    expect(again.hint).toBe('undo with kmsctl restore delv-key --version 1');
  });

  it('delete --version of the primary is exit 64 naming rotate as the way', () => {
    create(home, 'delp-key');
    const e = fails(cj(home, ['delete', 'delp-key', '--version', '1', '--yes']), 64, 'primary-version');
    expect(e.message).toContain('primary version');
    expect(e.message).toContain('kmsctl rotate delp-key');
    expect(versionOf(home, 'delp-key', 1).state).toBe('enabled');
    fails(cj(home, ['delete', 'delp-key', '--version', '5', '--yes']), 66, 'version-not-found');
  });
});

describe('restore', () => {
  it('brings a pending key back disabled by default, and enabled with --enable', () => {
    create(home, 'rs-key');
    ok(cj(home, ['delete', 'rs-key', '--yes']));
    expect(ok(cj(home, ['restore', 'rs-key']))).toMatchObject({ alias: 'rs-key', from: 'pending-deletion', state: 'disabled' });
    const s = showKey(home, 'rs-key');
    expect(s.state).toBe('disabled');
    expect(s.destroyAfter).toBeNull();
    expect(s.daysLeft).toBeNull();

    create(home, 'rs-key2');
    ok(cj(home, ['delete', 'rs-key2', '--yes']));
    expect(ok(cj(home, ['restore', 'rs-key2', '--enable']))).toMatchObject({ from: 'pending-deletion', state: 'enabled' });
    expect(showKey(home, 'rs-key2').state).toBe('enabled');
    unwrapsTo(home, wrap(home, 'rs-key2', 'back'), 'back');
  });

  it('brings a pending version back disabled, or enabled with --enable', () => {
    create(home, 'rsv-key');
    ok(cj(home, ['rotate', 'rsv-key']));
    ok(cj(home, ['rotate', 'rsv-key']));
    ok(cj(home, ['delete', 'rsv-key', '--version', '1', '--yes']));
    ok(cj(home, ['delete', 'rsv-key', '--version', '2', '--yes']));
    expect(ok(cj(home, ['restore', 'rsv-key', '--version', '1']))).toMatchObject({ version: 1, from: 'pending-destruction', state: 'disabled' });
    expect(ok(cj(home, ['restore', 'rsv-key', '--version', '2', '--enable']))).toMatchObject({ version: 2, from: 'pending-destruction', state: 'enabled' });
    const vs = showKey(home, 'rsv-key').versions;
    expect(vs.map((v: any) => [v.version, v.state, v.destroyAfter])).toEqual([
      [1, 'disabled', null],
      [2, 'enabled', null],
      [3, 'enabled', null],
    ]);
  });

  it('a key or version that is not pending is exit 77 with the reason', () => {
    create(home, 'rsn-key');
    const e = fails(cj(home, ['restore', 'rsn-key']), 77, 'key-enabled');
    expect(e.message).toContain('rsn-key is enabled, not pending deletion');
    ok(cj(home, ['disable', 'rsn-key']));
    fails(cj(home, ['restore', 'rsn-key']), 77, 'key-disabled');
    const v = fails(cj(home, ['restore', 'rsn-key', '--version', '1']), 77, 'version-enabled');
    expect(v.message).toContain('not pending destruction');
  });
});

describe('a key that is not enabled cannot be used', () => {
  const message = 'refused while not enabled';
  let blob: string;

  beforeAll(() => {
    create(home, 'use-w');
    create(home, 'use-s', 'ec-p256');
    create(home, 'use-m', 'hmac-sha256');
    blob = wrap(home, 'use-w', 'still-mine');
  });

  const uses = (): Array<[string, Run]> => [
    ['wrap', cj(home, ['wrap', 'use-w'], { input: 'more' })],
    ['datakey', cj(home, ['datakey', 'use-w'])],
    ['sign', cj(home, ['sign', 'use-s'], { input: message })],
    ['mac', cj(home, ['mac', 'use-m'], { input: message })],
    ['unwrap', cj(home, ['unwrap'], { input: blob })],
    ['rotate', cj(home, ['rotate', 'use-w'])],
  ];
  const aliasOf = (op: string) => (op === 'sign' ? 'use-s' : op === 'mac' ? 'use-m' : 'use-w');

  it('disabled: wrap, datakey, sign, mac, unwrap and rotate are exit 77 naming the state and kmsctl enable', () => {
    for (const a of ['use-w', 'use-s', 'use-m']) ok(cj(home, ['disable', a]));
    for (const [op, r] of uses()) {
      const e = fails(r, 77, 'key-disabled');
      expect(e.message, op).toContain(`key ${aliasOf(op)} is disabled`);
      expect(e.hint, op).toBe(`enable it with kmsctl enable ${aliasOf(op)}`);
    }
    // The same refusal for a person: one line with the state and the command that undoes it.
    const plain = cli(home, ['wrap', 'use-w'], { input: 'more' });
    expect(plain.code).toBe(77);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/^kmsctl: key use-w is disabled: it cannot wrap \(enable it with kmsctl enable use-w\)\n$/);

    for (const a of ['use-w', 'use-s', 'use-m']) ok(cj(home, ['enable', a]));
    unwrapsTo(home, blob, 'still-mine');
    ok(cj(home, ['sign', 'use-s'], { input: message }));
    ok(cj(home, ['mac', 'use-m'], { input: message }));
  });

  it('pending deletion: the same uses are exit 77 naming the state, the days left and kmsctl restore', () => {
    for (const a of ['use-w', 'use-s', 'use-m']) ok(cj(home, ['delete', a, '--window', '12d', '--yes', '--force']));
    for (const [op, r] of uses()) {
      const e = fails(r, 77, 'key-pending-deletion');
      expect(e.message, op).toContain(`key ${aliasOf(op)} is pending-deletion`);
      expect(e.message, op).toContain('(12 days left)');
      expect(e.hint, op).toBe(`restore it with kmsctl restore ${aliasOf(op)}`);
    }
    const plain = cli(home, ['sign', 'use-s'], { input: message });
    expect(plain.code).toBe(77);
    expect(plain.stderr).toMatch(/^kmsctl: key use-s is pending-deletion, destroyed after \S+ \(12 days left\): it cannot sign \(restore it with kmsctl restore use-s\)\n$/);

    for (const a of ['use-w', 'use-s', 'use-m']) ok(cj(home, ['restore', a, '--enable']));
    unwrapsTo(home, blob, 'still-mine');
    ok(cj(home, ['datakey', 'use-w']));
  });
});

describe('usage-aware deletion', () => {
  it('show --json has useCount, lastUsedAt and lastUsedBy per version', () => {
    create(home, 'uc-key');
    const t0 = Date.now();
    const b1 = wrap(home, 'uc-key', 'one');
    wrap(home, 'uc-key', 'two');
    ok(cj(home, ['rotate', 'uc-key']));
    wrap(home, 'uc-key', 'three');
    unwrapsTo(home, b1, 'one');
    const t1 = Date.now();
    const [v1, v2] = showKey(home, 'uc-key').versions;
    expect(v1).toMatchObject({ version: 1, useCount: 3, lastUsedBy: 'unwrap' });
    expect(v2).toMatchObject({ version: 2, useCount: 1, lastUsedBy: 'wrap' });
    for (const v of [v1, v2]) {
      expect(Date.parse(v.lastUsedAt)).toBeGreaterThanOrEqual(t0);
      expect(Date.parse(v.lastUsedAt)).toBeLessThanOrEqual(t1);
    }
    expect(Date.parse(v1.lastUsedAt)).toBeGreaterThan(Date.parse(v2.lastUsedAt));

    create(home, 'uc-unused');
    expect(showKey(home, 'uc-unused').versions[0]).toMatchObject({ useCount: 0, lastUsedAt: null, lastUsedBy: null });
  });

  it('delete of a key used in the last 7 days is exit 77 naming when and by which command, unless --force; both are audited', () => {
    create(home, 'ru-key', 'ec-p256');
    ok(cj(home, ['sign', 'ru-key'], { input: 'x' }));
    const used = versionOf(home, 'ru-key', 1).lastUsedAt as string;

    const e = fails(cj(home, ['delete', 'ru-key', '--yes']), 77, 'recently-used');
    expect(e.message).toContain(`used ${used} by sign`);
    expect(e.message).toContain('last 7 days');
    expect(e.hint).toContain('--force');
    expect(showKey(home, 'ru-key').state).toBe('enabled');

    expect(ok(cj(home, ['delete', 'ru-key', '--yes', '--force']))).toMatchObject({ state: 'pending-deletion' });

    const deletes = ok(cj(home, ['audit', '--key', 'ru-key'])).records.filter((r: any) => r.command === 'delete');
    expect(deletes).toHaveLength(2);
    expect(deletes[0]).toMatchObject({ alias: 'ru-key', outcome: 'failure', errorCode: 'recently-used' });
    expect(deletes[0].details).toMatchObject({ lastUsedAt: used, lastUsedBy: 'sign' });
    expect(deletes[0].details.force).toBeUndefined();
    expect(deletes[1]).toMatchObject({ alias: 'ru-key', outcome: 'success', errorCode: null });
    expect(deletes[1].details).toMatchObject({ force: true, lastUsedAt: used, lastUsedBy: 'sign' });
  });

  it('delete --version N of a version used in the last 7 days is refused the same way; --force schedules it', () => {
    create(home, 'ruv-key');
    const blob = wrap(home, 'ruv-key', 'v1 data');
    ok(cj(home, ['rotate', 'ruv-key']));
    unwrapsTo(home, blob, 'v1 data');
    const used = versionOf(home, 'ruv-key', 1).lastUsedAt as string;

    const e = fails(cj(home, ['delete', 'ruv-key', '--version', '1', '--yes']), 77, 'recently-used');
    expect(e.message).toContain('version 1 of ruv-key');
    expect(e.message).toContain(`used ${used} by unwrap`);
    expect(versionOf(home, 'ruv-key', 1).state).toBe('enabled');

    ok(cj(home, ['delete', 'ruv-key', '--version', '1', '--yes', '--force']));
    expect(versionOf(home, 'ruv-key', 1).state).toBe('pending-destruction');
    const deletes = ok(cj(home, ['audit', '--key', 'ruv-key'])).records.filter((r: any) => r.command === 'delete');
    expect(deletes.map((r: any) => [r.version, r.outcome, r.errorCode, r.details.force ?? false])).toEqual([
      [1, 'failure', 'recently-used', false],
      [1, 'success', null, true],
    ]);
  });

  it('a key last used more than 7 days ago, or never, is deleted without --force', () => {
    create(home, 'old-use');
    wrap(home, 'old-use', 'long ago');
    const eightDaysAgo = new Date(Date.now() - 8 * DAY_MS).toISOString();
    sqlite(home, `UPDATE versions SET last_used_at = '${eightDaysAgo}' WHERE key_id = (SELECT id FROM keys WHERE alias = 'old-use')`);
    ok(cj(home, ['delete', 'old-use', '--yes']));

    create(home, 'never-used');
    ok(cj(home, ['delete', 'never-used', '--yes']));
  });
});

describe('list and show for pending keys', () => {
  it('list --state pending-deletion lists only pending keys, each with destroyAfter and daysLeft', () => {
    create(home, 'ls-pending', 'aes-256', ['--deletion-window', '9d']);
    create(home, 'ls-enabled');
    const d = ok(cj(home, ['delete', 'ls-pending', '--yes']));
    const keys = ok(cj(home, ['list', '--state', 'pending-deletion'])).keys as any[];
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.state).toBe('pending-deletion');
      expect(typeof k.destroyAfter).toBe('string');
      expect(k.daysLeft).toBeGreaterThanOrEqual(1);
    }
    expect(keys.find((k) => k.alias === 'ls-pending')).toMatchObject({ destroyAfter: d.destroyAfter, daysLeft: 9 });
    expect(keys.some((k) => k.alias === 'ls-enabled')).toBe(false);

    const all = ok(cj(home, ['list'])).keys as any[];
    expect(all.find((k) => k.alias === 'ls-enabled')).toMatchObject({ state: 'enabled', destroyAfter: null, daysLeft: null });

    const text = cli(home, ['list', '--state', 'pending-deletion']);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.startsWith('ls-pending '));
    expect(line).toContain(`${d.destroyAfter.slice(0, 10)} (9d left)`);
    expect(text.stdout).not.toContain('ls-enabled');
  });

  it('show prints the deadline, the days left and the undo command; a pending version shows its own deadline', () => {
    create(home, 'sh-pending');
    const d = ok(cj(home, ['delete', 'sh-pending', '--window', '15d', '--yes']));
    const s = showKey(home, 'sh-pending');
    expect(s).toMatchObject({ state: 'pending-deletion', destroyAfter: d.destroyAfter, daysLeft: 15 });
    const text = cli(home, ['show', 'sh-pending']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`pending deletion: destroyed after ${d.destroyAfter} (15 days left; undo with kmsctl restore sh-pending)`);

    create(home, 'sh-version');
    ok(cj(home, ['rotate', 'sh-version']));
    const dv = ok(cj(home, ['delete', 'sh-version', '--version', '1', '--window', '7d', '--yes']));
    expect(versionOf(home, 'sh-version', 1)).toMatchObject({ state: 'pending-destruction', destroyAfter: dv.destroyAfter });
    const v1Line = cli(home, ['show', 'sh-version']).stdout.split('\n').find((l) => /^v1\b/.test(l));
    expect(v1Line).toMatch(new RegExp(`pending.* ${dv.destroyAfter.slice(0, 10)}`));
  });
});

describe('purge and the clock', () => {
  // A home of its own: purge acts on everything due in a ledger.
  let ph: string;
  const blobs: Record<string, string> = {};
  const ids = (alias: string) => ledgerVersions(ph, alias).map((v) => v.ckaId);
  const moveKeyDeadline = (alias: string, to: string) => sqlite(ph, `UPDATE keys SET destroy_after = '${to}' WHERE alias = '${alias}'`);
  const moveVersionDeadline = (alias: string, version: number, to: string) =>
    sqlite(ph, `UPDATE versions SET destroy_after = '${to}' WHERE version = ${version} AND key_id = (SELECT id FROM keys WHERE alias = '${alias}')`);
  let before: string[];

  beforeAll(() => {
    ph = initHome();
  });

  afterAll(() => {
    if (ph) removeDir(ph);
  });

  it('purge with nothing due is exit 0 and says nothing was due', () => {
    create(ph, 'p-enabled');
    const plain = cli(ph, ['purge', '--yes']);
    expect(plain.code, describeRun(plain)).toBe(0);
    expect(plain.stdout).toBe('nothing was due for purge\n');
    expect(ok(cj(ph, ['purge', '--yes']))).toEqual({ ok: true, dryRun: false, destroyed: [], due: [] });
    expect(ok(cj(ph, ['purge']))).toEqual({ ok: true, dryRun: false, destroyed: [], due: [] });
  });

  it('purge --dry-run lists exactly what is past its window and changes nothing', () => {
    // due: a whole key with two versions, a signing key (private + public objects), one old version
    create(ph, 'p-whole');
    ok(cj(ph, ['rotate', 'p-whole']));
    ok(cj(ph, ['delete', 'p-whole', '--window', '7d', '--yes']));
    moveKeyDeadline('p-whole', PAST);

    create(ph, 'p-sign', 'ec-p256');
    ok(cj(ph, ['delete', 'p-sign', '--yes']));
    moveKeyDeadline('p-sign', PAST);

    create(ph, 'p-ver');
    blobs.v1 = wrap(ph, 'p-ver', 'under p-ver v1');
    ok(cj(ph, ['rotate', 'p-ver']));
    blobs.v2 = wrap(ph, 'p-ver', 'under p-ver v2');
    ok(cj(ph, ['delete', 'p-ver', '--version', '1', '--yes', '--force']));
    moveVersionDeadline('p-ver', 1, PAST);

    // not due: inside their windows, one of them by only two minutes
    create(ph, 'p-later');
    ok(cj(ph, ['delete', 'p-later', '--yes']));
    create(ph, 'p-soon');
    ok(cj(ph, ['delete', 'p-soon', '--yes']));
    moveKeyDeadline('p-soon', new Date(Date.now() + 120_000).toISOString());
    create(ph, 'p-ver-later');
    ok(cj(ph, ['rotate', 'p-ver-later']));
    ok(cj(ph, ['delete', 'p-ver-later', '--version', '1', '--yes']));
    moveVersionDeadline('p-ver-later', 1, new Date(Date.now() + 120_000).toISOString());
    create(ph, 'p-disabled');
    ok(cj(ph, ['disable', 'p-disabled']));

    before = tokenIndex(ph);
    for (const v of ledgerVersions(ph)) {
      expect(before.filter((o) => o.endsWith(` ${v.ckaId}`)), `${v.alias} v${v.version} on the token`).toHaveLength(v.alias === 'p-sign' ? 2 : 1);
    }

    const d = ok(cj(ph, ['purge', '--dry-run']));
    expect(d.dryRun).toBe(true);
    expect(d.destroyed).toEqual([]);
    expect(d.due.map((x: any) => [x.alias, x.version, x.wholeKey, x.destroyAfter])).toEqual([
      ['p-sign', 1, true, PAST],
      ['p-ver', 1, false, PAST],
      ['p-whole', 1, true, PAST],
      ['p-whole', 2, true, PAST],
    ]);
    expect(tokenIndex(ph)).toEqual(before);
    expect(ledgerVersions(ph).filter((v) => v.state === 'destroyed')).toEqual([]);
  });

  it('outside a TTY, purge without --yes is exit 64 and destroys nothing', () => {
    const e = fails(cj(ph, ['purge']), 64, 'confirmation-needed');
    expect(e.message).toContain('--yes');
    expect(tokenIndex(ph)).toEqual(before);
  });

  it('purge --yes destroys exactly what is due on the token and marks it destroyed in the ledger', () => {
    const due = new Set([...ids('p-whole'), ...ids('p-sign'), ids('p-ver')[0]]);
    expect(due.size).toBe(4);
    const d = ok(cj(ph, ['purge', '--yes']));
    expect(d.destroyed.map((x: any) => `${x.alias} v${x.version}`)).toEqual(['p-sign v1', 'p-ver v1', 'p-whole v1', 'p-whole v2']);

    const after = tokenIndex(ph);
    expect(after).toEqual(before.filter((o) => !due.has(o.split(' ')[1])));
    expect(after.some((o) => due.has(o.split(' ')[1]))).toBe(false);
    for (const v of ledgerVersions(ph)) {
      const onToken = after.filter((o) => o.endsWith(` ${v.ckaId}`)).length;
      if (due.has(v.ckaId)) expect(v.state, `${v.alias} v${v.version}`).toBe('destroyed');
      else expect(onToken, `${v.alias} v${v.version} is still on the token`).toBe(v.alias === 'p-sign' ? 2 : 1);
    }

    const states = Object.fromEntries(readLedger(ph, (db) => db.prepare('SELECT alias, state FROM keys').all() as Array<{ alias: string; state: string }>).map((k) => [k.alias, k.state]));
    expect(states).toEqual({
      'p-enabled': 'enabled',
      'p-whole': 'destroyed',
      'p-sign': 'destroyed',
      'p-ver': 'enabled',
      'p-later': 'pending-deletion',
      'p-soon': 'pending-deletion',
      'p-ver-later': 'enabled',
      'p-disabled': 'disabled',
    });
    expect(ledgerVersions(ph, 'p-ver').map((v) => v.state)).toEqual(['destroyed', 'enabled']);
    expect(ledgerVersions(ph, 'p-ver-later').map((v) => v.state)).toEqual(['pending-destruction', 'enabled']);
  });

  it('the tombstone stays: list --all and show still have the destroyed key, and its audit history stays', () => {
    const listed = ok(cj(ph, ['list'])).keys.map((k: any) => k.alias);
    expect(listed).not.toContain('p-whole');
    expect(listed).not.toContain('p-sign');
    const all = ok(cj(ph, ['list', '--all'])).keys as any[];
    expect(all.find((k) => k.alias === 'p-whole')).toMatchObject({ state: 'destroyed', primaryVersion: 2 });
    expect(ok(cj(ph, ['list', '--state', 'destroyed'])).keys.map((k: any) => k.alias).sort()).toEqual(['p-sign', 'p-whole']);

    const s = showKey(ph, 'p-whole');
    expect(s.state).toBe('destroyed');
    expect(s.versions.map((v: any) => [v.version, v.state])).toEqual([
      [1, 'destroyed'],
      [2, 'destroyed'],
    ]);
    const history = ok(cj(ph, ['audit', '--key', 'p-whole'])).records.map((r: any) => [r.command, r.version, r.outcome]);
    expect(history).toEqual([
      ['create', 1, 'success'],
      ['rotate', 2, 'success'],
      ['delete', null, 'success'],
      ['purge', 1, 'success'],
      ['purge', 2, 'success'],
    ]);
  });

  it('a destroyed key or version cannot be restored, used or deleted again; the other version still unwraps', () => {
    const e = fails(cj(ph, ['restore', 'p-whole']), 77, 'key-destroyed');
    expect(e.message).toContain('p-whole was destroyed');
    fails(cj(ph, ['restore', 'p-ver', '--version', '1']), 77, 'version-destroyed');
    fails(cj(ph, ['wrap', 'p-whole'], { input: 'x' }), 77, 'key-destroyed');
    fails(cj(ph, ['sign', 'p-sign'], { input: 'x' }), 77, 'key-destroyed');
    fails(cj(ph, ['enable', 'p-whole']), 77, 'key-destroyed');
    fails(cj(ph, ['delete', 'p-whole', '--yes']), 77, 'key-destroyed');
    fails(cj(ph, ['unwrap'], { input: blobs.v1 }), 77, 'version-destroyed');
    unwrapsTo(ph, blobs.v2, 'under p-ver v2');
  });

  it('restore after the window has passed is exit 77 saying it is due for purge', () => {
    create(ph, 'p-late');
    ok(cj(ph, ['delete', 'p-late', '--yes']));
    moveKeyDeadline('p-late', new Date(Date.now() - 1000).toISOString());
    const e = fails(cj(ph, ['restore', 'p-late']), 77, 'window-passed');
    expect(e.message).toContain('can no longer be restored');
    expect(showKey(ph, 'p-late').state).toBe('pending-deletion');

    create(ph, 'p-late-v');
    ok(cj(ph, ['rotate', 'p-late-v']));
    ok(cj(ph, ['delete', 'p-late-v', '--version', '1', '--yes']));
    moveVersionDeadline('p-late-v', 1, PAST);
    fails(cj(ph, ['restore', 'p-late-v', '--version', '1']), 77, 'window-passed');
  });

  it('nothing is destroyed before its window; once the deadline passes, purge takes exactly that', () => {
    const soon = ids('p-soon');
    const d = ok(cj(ph, ['purge', '--yes']));
    // Only what the previous test moved past its window; p-soon is still two minutes short.
    expect(d.destroyed.map((x: any) => `${x.alias} v${x.version}`)).toEqual(['p-late v1', 'p-late-v v1']);
    expect(tokenIndex(ph).filter((o) => o.endsWith(soon[0]))).toHaveLength(1);

    moveKeyDeadline('p-soon', new Date(Date.now() - 1000).toISOString());
    const again = ok(cj(ph, ['purge', '--yes']));
    expect(again.destroyed.map((x: any) => `${x.alias} v${x.version}`)).toEqual(['p-soon v1']);
    expect(tokenIndex(ph).filter((o) => o.endsWith(soon[0]))).toHaveLength(0);
    expect(ok(cj(ph, ['purge', '--yes'])).destroyed).toEqual([]);
    expect(ledgerVersions(ph, 'p-later').map((v) => v.state)).toEqual(['enabled']);
    expect(showKey(ph, 'p-later').state).toBe('pending-deletion');
  });
});
