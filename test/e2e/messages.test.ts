// What kmsctl says, through the built binary on a real SoftHSM token: durations in the one strict form
// (and "out of range" with the range), values echoed back shortened, the right article before a spec,
// datakey named as datakey, a destroyed key's alias, a truncated blob whose numbers add up, destroyed
// keys in list --all, and a failed login tied to the key the command named.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir } from '../helpers/cli.js';
import { fails, failsPlain, kj, ok, parseBlob, toText } from '../helpers/e2e.js';

let home: string;
const ids: Record<string, string> = {};

function file(name: string, content: Buffer | string): string {
  const p = join(home, name);
  writeFileSync(p, content);
  return p;
}

function aliases(): string[] {
  return ok(kj(['list', '--all'], { home })).keys.map((k: { alias: string }) => k.alias);
}

beforeAll(() => {
  home = initHome();
  for (const [alias, spec] of [['e1', 'aes-256'], ['sig', 'ec-p256'], ['ed', 'ed25519'], ['mk', 'hmac-sha256'], ['rsa', 'rsa-2048']]) {
    ids[alias] = ok(kj(['create', alias, '--spec', spec], { home })).key.id;
  }
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('durations: a whole number and a lower-case unit, nothing else', () => {
  it.each([
    ['1.5d', '--rotation-period "1.5d" is not a duration', 'a whole number: 1.5d is 36h'],
    ['90D', '--rotation-period "90D" is not a duration', 'units are lower case: 90d'],
    [' 90d', '--rotation-period " 90d" is not a duration', 'no spaces'],
    ['90 days', '--rotation-period "90 days" is not a duration', 'no spaces'],
  ])('create --rotation-period %j is exit 64 saying what the form is, and makes nothing', (value, says, why) => {
    const e = fails(kj(['create', 'dur-x', '--spec', 'aes-256', '--rotation-period', value], { home }), 64, 'usage');
    expect(e.reason).toBe('bad-duration');
    expect(e.message).toContain(says);
    expect(e.message).toContain('write a whole number and a unit (s, m, h, d or w), lower case and with no spaces');
    expect(e.message).toContain(`(${why})`);
    expect(e.message).toContain('allowed 1d..3650d');
    expect(aliases()).not.toContain('dur-x');
  });

  it('create --rotation-period 0d is out of range, naming the range', () => {
    const e = fails(kj(['create', 'dur-x', '--spec', 'aes-256', '--rotation-period', '0d'], { home }), 64, 'usage');
    expect(e.reason).toBe('duration-out-of-range');
    expect(e.message).toBe('--rotation-period "0d" is out of range: allowed 1d..3650d');
    expect(failsPlain(kms(['create', 'dur-x', '--spec', 'aes-256', '--rotation-period', '0d'], { home }), 64)).toBe('kmsctl: --rotation-period "0d" is out of range: allowed 1d..3650d');
  });

  it('--deletion-window 3d and delete --window 7.5d are refused with the range', () => {
    expect(fails(kj(['create', 'dur-x', '--spec', 'aes-256', '--deletion-window', '3d'], { home }), 64).message).toBe('--deletion-window "3d" is out of range: allowed 7d..30d');
    const e = fails(kj(['delete', 'e1', '--window', '7.5d', '--yes'], { home }), 64);
    expect(e.message).toContain('--window "7.5d" is not a duration');
    expect(e.message).toContain('allowed 7d..30d');
    expect(ok(kj(['show', 'e1'], { home })).key.state).toBe('enabled');
  });

  it('the forms that work are stored exactly: 2w, 2160h, 90d', () => {
    expect(ok(kj(['create', 'dur-2w', '--spec', 'aes-256', '--rotation-period', '2w', '--deletion-window', '1w'], { home })).key).toMatchObject({ rotationPeriodSeconds: 14 * 86_400, deletionWindowSeconds: 7 * 86_400 });
    expect(ok(kj(['create', 'dur-h', '--spec', 'aes-256', '--rotation-period', '2160h'], { home })).key.rotationPeriodSeconds).toBe(90 * 86_400);
  });

  it('audit --since keeps its durations and timestamps; a near miss is told the form', () => {
    ok(kj(['audit', '--since', '24h'], { home }));
    ok(kj(['audit', '--since', '7d', '--key', 'e1'], { home }));
    ok(kj(['audit', '--since', '2026-01-01'], { home }));
    ok(kj(['report', '--since', '30d'], { home }));
    expect(fails(kj(['audit', '--since', '1.5d'], { home }), 64).message).toContain('--since "1.5d" is not a duration');
  });
});

describe('values echoed back are shortened', () => {
  const long = 'x'.repeat(100_000);

  it.each([
    ['an invalid alias', ['create', `${long}/`, '--spec', 'aes-256'], 64, 'invalid alias'],
    ['an unknown key', ['wrap', long, '--in', '-'], 66, 'no key'],
    ['a long duration', ['create', 'dur-y', '--spec', 'aes-256', '--rotation-period', `${'9'.repeat(100_000)}d`], 64, 'is out of range'],
    ['a long not-a-duration', ['delete', 'e1', '--window', long, '--yes'], 64, 'is not a duration'],
    ['an unknown spec', ['create', 'dur-z', '--spec', long], 64, 'is invalid. Allowed choices are aes-256'],
    ['a long --since', ['audit', '--since', long], 64, 'is neither a duration ago'],
  ] as Array<[string, string[], number, string]>)('%s', (_name, args, exit, says) => {
    const e = fails(kj(args, { home, input: 'x' }), exit);
    expect(e.message).toContain(says);
    expect(e.message).toMatch(/…["']/);
    expect(e.message.length).toBeLessThan(300);
    const line = failsPlain(kms(args, { home, input: 'x' }), exit);
    expect(line.length).toBeLessThan(400);
  });
});

describe('a key of the wrong purpose: the command and the spec, each with its article', () => {
  it.each([
    ['datakey', ['datakey', 'sig'], 'key sig is an ec-p256 key for sign; datakey needs an aes-256 key'],
    ['wrap', ['wrap', 'sig', '--in', '-'], 'key sig is an ec-p256 key for sign; wrap needs an aes-256 key'],
    ['wrap', ['wrap', 'ed', '--in', '-'], 'key ed is an ed25519 key for sign; wrap needs an aes-256 key'],
    ['sign', ['sign', 'e1', '--in', '-'], 'key e1 is an aes-256 key for wrap; sign needs a signing key (ec-*, ed25519, rsa-*)'],
    ['sign', ['sign', 'mk', '--in', '-'], 'key mk is an hmac-sha256 key for mac; sign needs a signing key (ec-*, ed25519, rsa-*)'],
    ['mac', ['mac', 'rsa', '--in', '-'], 'key rsa is an rsa-2048 key for sign; mac needs an hmac-sha256 key'],
    ['verify', ['verify', 'mk', '--in', 'msg', '--signature', 'msg'], 'key mk is an hmac-sha256 key for mac; verify needs a signing key'],
  ] as Array<[string, string[], string]>)('%s: %j', (_cmd, args, message) => {
    file('msg', 'hello');
    const e = fails(kj(args, { home, input: 'x' }), 64, 'usage');
    expect(e.reason).toBe('wrong-purpose');
    expect(e.message).toBe(message);
  });

  it('datakey on a disabled key says it cannot make data keys', () => {
    ok(kj(['create', 'dk-off', '--spec', 'aes-256'], { home }));
    ok(kj(['disable', 'dk-off'], { home }));
    const e = fails(kj(['datakey', 'dk-off'], { home }), 77, 'denied');
    expect(e.message).toBe('key dk-off is disabled: it cannot make data keys');
  });
});

describe('a destroyed key: its alias, and list --all', () => {
  beforeAll(() => {
    ok(kj(['create', 'old-payments', '--spec', 'aes-256'], { home }));
    ids['old-payments'] = ok(kj(['show', 'old-payments'], { home })).key.id;
    ok(kj(['delete', 'old-payments', '--window', '7d', '--yes', '--force'], { home }));
    const db = new Database(join(home, 'ledger.db'));
    try {
      db.prepare("UPDATE keys SET destroy_after = '2026-01-02T03:04:05.000Z' WHERE alias = 'old-payments'").run();
    } finally {
      db.close();
    }
    expect(ok(kj(['purge', '--yes'], { home })).destroyed.map((d: { alias: string }) => d.alias)).toEqual(['old-payments']);
  });

  it('create on its alias is exit 73 saying the alias stays with the tombstone, suggesting a new alias', () => {
    const e = fails(kj(['create', 'old-payments', '--spec', 'aes-256'], { home }), 73, 'exists');
    expect(e.reason).toBe('alias-destroyed');
    expect(e.message).toBe(`alias "old-payments" belongs to a destroyed key (${ids['old-payments']}): its tombstone keeps the alias, which cannot be reused`);
    expect(e.hint).toBe('choose a new alias, e.g. kmsctl create old-payments-2 --spec aes-256');
    expect(`${e.message} ${e.hint}`).not.toContain('rotate');
    const line = failsPlain(kms(['create', 'old-payments', '--spec', 'aes-256'], { home }), 73);
    expect(line).toContain('tombstone');
    expect(line).not.toContain('rotate');
  });

  it('create on a live alias still suggests rotate', () => {
    const e = fails(kj(['create', 'e1', '--spec', 'aes-256'], { home }), 73, 'exists');
    expect(e.message).toBe('a key with alias "e1" already exists');
    expect(e.hint).toBe('use another alias, or kmsctl rotate e1 for a new version');
  });

  it('list --all shows "destroyed" in the deletion column, never days left', () => {
    const r = kms(['list', '--all'], { home });
    expect(r.code).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.includes('old-payments'))!;
    expect(row).toContain('destroyed (window ended 2026-01-02)');
    expect(row).not.toMatch(/d left/);
    expect(ok(kj(['list', '--all'], { home })).keys.find((k: { alias: string }) => k.alias === 'old-payments')).toMatchObject({ state: 'destroyed', destroyAfter: '2026-01-02T03:04:05.000Z', daysLeft: null });
  });
});

describe('a truncated blob: the numbers in the message add up', () => {
  it('a binary blob cut to 40 bytes', () => {
    const blob = ok(kj(['wrap', 'e1', '--in', file('dek', randomBytes(32)), '--context', 'a=b'], { home })).blob as string;
    const parts = parseBlob(blob);
    expect(parts.at.ciphertext).toBe(58); // the header of a blob under a k_ + 20 hex key id
    const e = fails(kj(['unwrap', '--context', 'a=b'], { home, input: parts.bytes.subarray(0, 40) }), 65, 'bad-data');
    expect(e.reason).toBe('truncated');
    expect(e.message).toBe('blob is truncated: 40 bytes, but its header alone is 58 bytes and at least 17 bytes of ciphertext follow it (at least 35 bytes missing: 18 of the header, 17 or more of the ciphertext)');
    expect(fails(kj(['unwrap', '--context', 'a=b'], { home, input: toText(parts.bytes.subarray(0, 40)) }), 65).message).toBe(e.message);
  });
});

describe('a failed login is tied to the key the command named', () => {
  it('a wrong-PIN wrap of e1 shows in audit --key e1 --outcome failure, with its key id and alias', () => {
    const before = ok(kj(['audit', '--key', 'e1', '--outcome', 'failure'], { home })).records.length;
    const r = kj(['wrap', 'e1', '--in', file('dek2', randomBytes(32))], { home, env: { KMSCTL_PIN: '000000' } });
    expect(fails(r, 77, 'denied').message).not.toContain('000000');
    const recs = ok(kj(['audit', '--key', 'e1', '--outcome', 'failure'], { home })).records;
    expect(recs).toHaveLength(before + 1);
    expect(recs.at(-1)).toMatchObject({ command: 'wrap', keyId: ids.e1, alias: 'e1', outcome: 'failure', details: { stage: 'login' } });
    expect(ok(kj(['audit', '--key', ids.e1, '--outcome', 'failure'], { home })).records.at(-1)).toMatchObject({ command: 'wrap', alias: 'e1' });
  });

  it('by key id, the record carries the alias too; an unknown key is recorded as named', () => {
    expect(kms(['sign', ids.sig, '--in', file('msg', 'hi')], { home, env: { KMSCTL_PIN: '000000' } }).code).toBe(77);
    expect(ok(kj(['audit', '--key', 'sig', '--outcome', 'failure'], { home })).records.at(-1)).toMatchObject({ command: 'sign', keyId: ids.sig, alias: 'sig', details: { stage: 'login' } });
    expect(kms(['create', 'never-made', '--spec', 'aes-256'], { home, env: { KMSCTL_PIN: '000000' } }).code).toBe(77);
    expect(ok(kj(['audit', '--key', 'never-made'], { home })).records).toEqual([expect.objectContaining({ command: 'create', keyId: null, alias: 'never-made', outcome: 'failure' })]);
  });
});
