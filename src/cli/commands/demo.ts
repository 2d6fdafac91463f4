import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../paths.js';
import type { Handler } from '../result.js';
import { checkFailed } from '../../errors.js';
import { colours } from '../render.js';

const BIN = join(projectRoot(), 'bin', 'kmsctl');

interface Step {
  code: number;
  json: any;
}

/**
 * The main job, end to end, on the embedded token: each step runs the real kmsctl binary, shows the
 * command line on stderr and checks what came back. Exit 0 only when every check held.
 */
export const run: Handler = async (rt) => {
  const c = colours(rt.flags);
  const home = rt.config.home;
  const work = mkdtempSync(join(tmpdir(), 'kmsctl-demo-'));
  const quiet = rt.flags.json || rt.flags.quiet;
  const say = (s: string) => { if (!quiet) process.stderr.write(`${s}\n`); };
  const env: NodeJS.ProcessEnv = { ...process.env, KMSCTL_HOME: home };
  for (const k of ['KMSCTL_MODULE', 'KMSCTL_TOKEN', 'KMSCTL_TOKEN_SERIAL', 'KMSCTL_PIN', 'KMSCTL_PIN_FILE']) delete env[k];
  let stepNo = 0;

  const kms = (args: string[], show = args): Step => {
    say(c.dim(`  $ kmsctl ${show.join(' ')}`));
    const r = spawnSync(process.execPath, [BIN, ...args, '--json', '--no-input'], { env, cwd: work, encoding: 'utf8' });
    let json: any;
    try { json = JSON.parse(r.stdout); } catch { json = undefined; }
    return { code: r.status ?? 1, json };
  };
  const step = (title: string) => say(`\n${c.bold(`${++stepNo}. ${title}`)}`);
  const check = (ok: boolean, what: string) => {
    if (!ok) throw checkFailed(`demo step ${stepNo} failed: ${what}`);
    say(`  ${c.green('ok')} ${what}`);
  };
  const must = (r: Step, what: string): any => {
    if (r.code !== 0 || !r.json?.ok) throw checkFailed(`demo step ${stepNo} failed: ${what} (exit ${r.code}: ${r.json?.error?.message ?? 'no output'})`);
    return r.json;
  };

  try {
    say(c.bold('kmsctl demo: the main job on the embedded SoftHSM token'));
    say(`home ${home} (a development default: the token's PINs sit in 0600 files there)`);

    step('init: make the embedded token and bind the ledger to it (idempotent)');
    const init = must(kms(['init']), 'init');
    check(init.token?.label === 'kmsctl', `token "${init.token.label}" serial ${init.token.serial}`);
    const before = must(kms(['audit', '--limit', '1']), 'audit');
    const seq0: number = before.records.length ? before.records[0].seq : 0;

    step('create a wrap key (AES-256) and a signing key (ECDSA P-256), unless they exist');
    for (const [alias, spec] of [['demo-wrap', 'aes-256'], ['demo-sign', 'ec-p256']]) {
      const shown = kms(['show', alias], ['show', alias]);
      if (shown.code === 0) {
        check(shown.json.key.spec === spec && shown.json.key.state === 'enabled', `${alias} exists (${spec}, primary v${shown.json.key.primaryVersion}): reusing it`);
      } else {
        const made = must(kms(['create', alias, '--spec', spec]), `create ${alias}`);
        check(made.key.alias === alias && made.key.spec === spec, `created ${alias} (${made.key.id}, ${spec})`);
      }
    }

    step('datakey: a random 256-bit data key from the token, in plaintext and wrapped form');
    const dk = must(kms(['datakey', 'demo-wrap', '--bytes', '32', '--context', 'app=demo']), 'datakey');
    check(Buffer.from(dk.plaintext, 'base64').length === 32 && dk.blob.startsWith('kmsctl:v1:'), `32-byte key, blob ${dk.blob.slice(0, 28)}...`);
    writeFileSync(join(work, 'dk.wrapped'), `${dk.blob}\n`);
    const dku = must(kms(['unwrap', '--in', 'dk.wrapped', '--context', 'app=demo']), 'unwrap datakey');
    check(dku.plaintext === dk.plaintext, 'unwrapping the blob gives the same data key back');

    step('wrap a data key of our own with an encryption context, and unwrap it');
    const dek = randomBytes(32);
    writeFileSync(join(work, 'dek.bin'), dek);
    const w = must(kms(['wrap', 'demo-wrap', '--in', 'dek.bin', '--context', 'tenant=acme', '--out', 'dek.wrapped']), 'wrap');
    const oldVersion: number = w.version;
    check(readFileSync(join(work, 'dek.wrapped'), 'utf8').startsWith('kmsctl:v1:'), `wrapped under demo-wrap v${oldVersion} into dek.wrapped`);
    const u = must(kms(['unwrap', '--in', 'dek.wrapped', '--context', 'tenant=acme']), 'unwrap');
    check(Buffer.from(u.plaintext, 'base64').equals(dek), 'unwrap gives the same 32 bytes');
    const wrong = kms(['unwrap', '--in', 'dek.wrapped', '--context', 'tenant=evil']);
    check(wrong.code === 65 && wrong.json?.error?.reason === 'context-mismatch', 'a different context is refused (exit 65)');

    step('sign a file and verify the signature offline, and with openssl');
    writeFileSync(join(work, 'release.txt'), `release ${new Date().toISOString()}\n`);
    const s = must(kms(['sign', 'demo-sign', '--in', 'release.txt', '--out', 'release.sig']), 'sign');
    check(s.format === 'der' && s.digest === 'sha256', `ECDSA P-256 / SHA-256 signature (DER) by demo-sign v${s.version}`);
    const v = must(kms(['verify', 'demo-sign', '--in', 'release.txt', '--signature', 'release.sig']), 'verify');
    check(v.valid === true, 'kmsctl verify: valid (from the public key in the ledger, no PIN)');
    const pk = must(kms(['public-key', 'demo-sign', '--out', 'demo-sign.pem']), 'public-key');
    const ossl = spawnSync('openssl', ['dgst', '-sha256', '-verify', 'demo-sign.pem', '-signature', 'release.sig', 'release.txt'], { cwd: work, encoding: 'utf8' });
    if (ossl.error) {
      say('  (openssl not on PATH: skipping its check)');
    } else {
      say(c.dim('  $ openssl dgst -sha256 -verify demo-sign.pem -signature release.sig release.txt'));
      check(ossl.status === 0 && /Verified OK/.test(ossl.stdout), `openssl: ${ossl.stdout.trim()} (key v${pk.version})`);
    }

    step('rotate the wrap key: a new primary version');
    const r = must(kms(['rotate', 'demo-wrap']), 'rotate');
    check(r.version > oldVersion, `demo-wrap v${r.version} is primary now`);

    step('the blob made before the rotation still unwraps');
    const u2 = must(kms(['unwrap', '--in', 'dek.wrapped', '--context', 'tenant=acme']), 'unwrap after rotate');
    check(u2.version === oldVersion && Buffer.from(u2.plaintext, 'base64').equals(dek), `unwrapped with v${u2.version}`);

    step('rewrap it under the new primary version, without the plaintext leaving kmsctl');
    const rw = must(kms(['rewrap', '--in', 'dek.wrapped', '--context', 'tenant=acme', '--out', 'dek.wrapped']), 'rewrap');
    check(rw.fromVersion === oldVersion && rw.version === r.version, `moved from v${rw.fromVersion} to v${rw.version}`);
    const u3 = must(kms(['unwrap', '--in', 'dek.wrapped', '--context', 'tenant=acme']), 'unwrap after rewrap');
    check(u3.version === r.version && Buffer.from(u3.plaintext, 'base64').equals(dek), 'the rewrapped blob unwraps to the same key');

    step('the audit records of this run');
    const a = must(kms(['audit', '--since-seq', String(seq0)]), 'audit');
    const cmds: string[] = a.records.map((x: any) => x.command);
    check(['datakey', 'wrap', 'unwrap', 'sign', 'verify', 'rotate', 'rewrap'].every((x) => cmds.includes(x)), `${a.records.length} records, one per operation, failures included`);
    const failed = a.records.filter((x: any) => x.outcome === 'failure').map((x: any) => `${x.seq} ${x.command}: ${x.errorCode}`);
    check(failed.length === 1 && failed[0].includes('context-mismatch'), `the refused unwrap is on record too (seq ${failed[0] ?? '?'})`);
    say(`\n${c.green('demo complete')}: every step checked out.`);
    const table = spawnSync(process.execPath, [BIN, 'audit', '--since-seq', String(seq0)], { env: { ...env, NO_COLOR: '1' }, encoding: 'utf8' });
    return { data: { steps: stepNo, records: a.records }, text: table.stdout };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};
