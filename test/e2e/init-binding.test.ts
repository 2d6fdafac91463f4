// A ledger bound through --module/--token to a token of its own (here a second SoftHSM token,
// "exttok", made with softhsm2-util in its own directory), used without --module: every command and
// init itself refuse with 78, naming that token and how to select it, and init makes nothing first.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, kms, removeDir, softHsmModule, tempDir } from '../helpers/cli.js';
import { auditCount, fails, failsPlain, kj, ledgerRows, ok, userPin } from '../helpers/e2e.js';

const PIN = '246810';
let tokenDir: string;
let conf: string;
let home: string;
let embeddedHome: string;
let serial: string;
let env: Record<string, string>;

beforeAll(() => {
  const module = softHsmModule();
  tokenDir = tempDir('kmsctl-exttok-');
  mkdirSync(join(tokenDir, 'tokens'));
  conf = join(tokenDir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(tokenDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const made = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', 'exttok', '--so-pin', '13579246', '--pin', PIN], { env: { ...process.env, SOFTHSM2_CONF: conf } });
  expect(made.status, made.stderr.toString()).toBe(0);

  // The operator's shell points SoftHSM at that token; the ledger is bound to it through --module.
  env = { SOFTHSM2_CONF: conf };
  home = tempDir();
  writeFileSync(join(home, 'pin.txt'), `${PIN}\n`);
  const init = ok(kj(['init', '--module', module, '--token', 'exttok', '--pin-file', join(home, 'pin.txt')], { home, env }));
  expect(init).toMatchObject({ embedded: false, tokenCreated: false, ledgerBound: true, token: { label: 'exttok' } });
  serial = init.token.serial;
  ok(kj(['create', 'e1', '--spec', 'aes-256', '--module', module, '--token', 'exttok', '--pin-file', join(home, 'pin.txt')], { home, env }));

  // A second home with an embedded token, as a user of both would have.
  embeddedHome = initHome();
});

afterAll(() => {
  for (const d of [tokenDir, home, embeddedHome]) if (d) removeDir(d);
});

describe('a ledger bound to an external token, used without --module', () => {
  it('create e2 --pin-file is exit 78 naming the bound token and --module/KMSCTL_MODULE, not "run kmsctl init"', () => {
    const args = ['create', 'e2', '--spec', 'aes-256', '--pin-file', join(home, 'pin.txt')];
    const e = fails(kj(args, { home, env }), 78, 'config');
    expect(e.reason).toBe('token-mismatch');
    expect(e.message).toBe(
      `this ledger is bound to token "exttok" (serial ${serial}) through the PKCS#11 module ${softHsmModule()}, not to an embedded token: ` +
        `pass --module ${softHsmModule()} (or set KMSCTL_MODULE) and --token exttok (or KMSCTL_TOKEN) to use it`,
    );
    expect(`${e.message} ${e.hint}`).not.toContain('kmsctl init');
    expect(`${e.message} ${e.hint}`).not.toContain('no embedded token');
    const line = failsPlain(kms(args, { home, env }), 78);
    expect(line).toContain('bound to token "exttok"');
    expect(ok(kj(['list'], { home })).keys.map((k: { alias: string }) => k.alias)).toEqual(['e1']);
  });

  it('wrap and rotate say the same', () => {
    writeFileSync(join(home, 'dek'), 'x'.repeat(32));
    for (const args of [['wrap', 'e1', '--in', join(home, 'dek')], ['rotate', 'e1']]) {
      const e = fails(kj(args, { home, env: { ...env, KMSCTL_PIN: PIN } }), 78, 'config');
      expect(e.message).toContain('bound to token "exttok"');
      expect(e.message).toContain('KMSCTL_MODULE');
    }
  });

  it('init without --module is exit 78 naming the token, and creates nothing', () => {
    const rows = ledgerRows(home);
    const audit = auditCount(home);
    // SQLite's -wal and -shm files come and go with connections; anything else would be new.
    const listing = () => readdirSync(home).filter((f) => !/^ledger\.db-(wal|shm)$/.test(f)).sort();
    const files = listing();
    const e = fails(kj(['init'], { home, env }), 78, 'config');
    expect(e.reason).toBe('token-mismatch');
    expect(e.message).toBe(
      `the ledger in ${home} is bound to token "exttok" (serial ${serial}) through the PKCS#11 module ${softHsmModule()}; ` +
        'init without --module would make an embedded token this ledger cannot use, so nothing was made',
    );
    expect(e.hint).toBe(`kmsctl init --module ${softHsmModule()} --token exttok checks that binding; use another --home for an embedded token`);
    expect(failsPlain(kms(['init'], { home, env }), 78)).toContain('bound to token "exttok"');
    expect(existsSync(join(home, 'softhsm'))).toBe(false);
    expect(listing()).toEqual(files);
    expect(ledgerRows(home)).toEqual(rows);
    expect(auditCount(home)).toBe(audit);
    // The external token is as it was: still one initialised token in its directory.
    expect(readdirSync(join(tokenDir, 'tokens'))).toHaveLength(1);
  });

  it('following the advice works: --module and --token, or KMSCTL_MODULE and KMSCTL_TOKEN', () => {
    ok(kj(['create', 'e2', '--spec', 'aes-256', '--module', softHsmModule(), '--token', 'exttok', '--pin-file', join(home, 'pin.txt')], { home, env }));
    ok(kj(['rotate', 'e1'], { home, env: { ...env, KMSCTL_MODULE: softHsmModule(), KMSCTL_TOKEN: 'exttok', KMSCTL_PIN: PIN } }));
    expect(ok(kj(['init', '--module', softHsmModule(), '--token', 'exttok', '--pin-file', join(home, 'pin.txt')], { home, env })).changed).toBe(false);
  });

  it('the embedded home next to it is untouched and still works', () => {
    ok(kj(['create', 'mine', '--spec', 'aes-256'], { home: embeddedHome }));
    expect(ok(kj(['init'], { home: embeddedHome })).changed).toBe(false);
    expect(userPin(embeddedHome).length).toBeGreaterThan(0);
  });
});

describe('a ledger bound to an embedded token whose directory is gone', () => {
  it('init is exit 78 and makes no new token', () => {
    const h = initHome();
    try {
      removeDir(join(h, 'softhsm'));
      const e = fails(kj(['init'], { home: h }), 78, 'config');
      expect(e.reason).toBe('token-mismatch');
      expect(e.message).toContain(`is bound to the embedded token "kmsctl"`);
      expect(e.message).toContain('so nothing was made');
      expect(existsSync(join(h, 'softhsm'))).toBe(false);
    } finally {
      removeDir(h);
    }
  });
});
