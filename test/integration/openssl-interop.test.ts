// The openssl binary verifies kmsctl's signatures: 200 of each kind, on distinct messages of random
// length. A few of each are made by spawning `kmsctl sign`; the rest by the same library calls in this
// process (openSignKey/signWith on the test home's embedded token), since a thousand spawns would
// take minutes. Every signature goes through openssl, and through kmsctl's own verify.

import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initHome, removeDir, softHsmModule } from '../helpers/cli.js';
import { flipBit, kj, kmsAsync, ledgerQuery, ok, pool } from '../helpers/e2e.js';
import { activateEmbedded, EMBEDDED_LABEL, readEmbeddedPin } from '../../src/token/embedded.js';
import { Token } from '../../src/token/token.js';
import { openLedger } from '../../src/ledger/db.js';
import { openSignKey, signWith, type SignOptions } from '../../src/keys/sign.js';
import { verify } from '../../src/keys/verify.js';
import { newScope } from '../../src/keys/context.js';
import { KmsError } from '../../src/errors.js';

const PER_KIND = 200;
const VIA_BINARY = 12;
const FLIPPED_VIA_BINARY = 2;
/** Processes at once: kmsctl and openssl spend much of their time starting up. */
const PARALLEL = 3;

interface Kind {
  name: string;
  alias: string;
  spec: string;
  signArgs: string[];
  opts: SignOptions;
  openssl: (pub: string, sig: string, msg: string) => string[];
  okText: RegExp;
}

const dgst = (hash: string, extra: string[] = []) => (pub: string, sig: string, msg: string) => ['dgst', `-${hash}`, ...extra, '-verify', pub, '-signature', sig, msg];

const KINDS: Kind[] = [
  { name: 'ec-p256 ECDSA DER sha256', alias: 'ec256', spec: 'ec-p256', signArgs: [], opts: {}, openssl: dgst('sha256'), okText: /^Verified OK$/m },
  { name: 'ec-p384 ECDSA DER sha384', alias: 'ec384', spec: 'ec-p384', signArgs: [], opts: {}, openssl: dgst('sha384'), okText: /^Verified OK$/m },
  {
    name: 'rsa-2048 PSS sha256 salt 32',
    alias: 'rsa',
    spec: 'rsa-2048',
    signArgs: [],
    opts: {},
    openssl: dgst('sha256', ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']),
    okText: /^Verified OK$/m,
  },
  { name: 'rsa-2048 PKCS#1 v1.5 sha256', alias: 'rsa', spec: 'rsa-2048', signArgs: ['--padding', 'pkcs1'], opts: { padding: 'pkcs1' }, openssl: dgst('sha256'), okText: /^Verified OK$/m },
  {
    name: 'ed25519',
    alias: 'ed',
    spec: 'ed25519',
    signArgs: [],
    opts: {},
    openssl: (pub, sig, msg) => ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', msg, '-sigfile', sig],
    okText: /Signature Verified Successfully/,
  },
];

interface Made {
  msg: Buffer;
  msgPath: string;
  sigPath: string;
  sig: Buffer;
  viaBinary: boolean;
}

let home: string;
let work: string;
const pubPath: Record<string, string> = {};
const made: Record<string, Made[]> = {};

function openssl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      if (code === null) reject(err);
      else resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function newMessage(kind: Kind, i: number): { msg: Buffer; msgPath: string; sigPath: string } {
  const msg = randomBytes(randomInt(1, 4097));
  const base = join(work, `${kind.alias}-${kind.signArgs.join('') || 'default'}-${i}`);
  writeFileSync(`${base}.msg`, msg);
  return { msg, msgPath: `${base}.msg`, sigPath: `${base}.sig` };
}

beforeAll(async () => {
  softHsmModule();
  home = initHome();
  work = join(home, 'work');
  mkdirSync(work);
  for (const [alias, spec] of [['ec256', 'ec-p256'], ['ec384', 'ec-p384'], ['rsa', 'rsa-2048'], ['ed', 'ed25519']]) {
    ok(kj(['create', alias, '--spec', spec], { home }));
    pubPath[alias] = join(work, `${alias}.pub.pem`);
    ok(kj(['public-key', alias, '--out', pubPath[alias]], { home }));
  }

  // A few of each kind through the binary, as an operator would.
  for (const kind of KINDS) {
    made[kind.name] = await pool(Array.from({ length: VIA_BINARY }, (_x, i) => i), PARALLEL, async (i) => {
      const m = newMessage(kind, i);
      const d = ok(await kmsAsync(['sign', kind.alias, '--in', m.msgPath, '--out', m.sigPath, ...kind.signArgs, '--json'], { home }));
      return { ...m, sig: Buffer.from(d.signature, 'base64'), viaBinary: true };
    });
  }

  // The rest in-process, with the library calls `kmsctl sign` makes, on the same embedded token.
  const serial = ledgerQuery(home, (db) => (db.prepare("SELECT value FROM meta WHERE name = 'token_serial'").get() as { value: string }).value);
  const modulePath = activateEmbedded(home);
  const token = Token.open(modulePath, { label: EMBEDDED_LABEL, serial });
  const db = openLedger(home);
  try {
    token.login(readEmbeddedPin(home)!);
    const ctx = { db, token, now: () => new Date() };
    for (const kind of KINDS) {
      const sk = openSignKey(ctx, newScope(), kind.alias, kind.opts);
      for (let i = VIA_BINARY; i < PER_KIND; i++) {
        const m = newMessage(kind, i);
        const sig = signWith(ctx, sk, m.msg);
        writeFileSync(m.sigPath, sig);
        made[kind.name].push({ ...m, sig, viaBinary: false });
      }
    }
  } finally {
    token.close();
    db.close();
  }
});

afterAll(() => {
  if (home) removeDir(home);
});

describe('openssl verifies kmsctl signatures', () => {
  it('1000 signatures over distinct messages of random length', () => {
    const all = KINDS.flatMap((k) => made[k.name]);
    expect(all).toHaveLength(KINDS.length * PER_KIND);
    expect(new Set(all.map((m) => createHash('sha256').update(m.msg).digest('hex'))).size).toBe(all.length);
    const lengths = new Set(all.map((m) => m.msg.length));
    expect(lengths.size).toBeGreaterThan(500);
  });

  it.each(KINDS.map((k) => [k.name, k] as const))('%s: openssl verifies all 200; a changed message fails', async (_name, kind) => {
    const sigs = made[kind.name];
    expect(sigs.filter((m) => m.viaBinary)).toHaveLength(VIA_BINARY);
    const results = await pool(sigs, PARALLEL + 1, (m) => openssl(kind.openssl(pubPath[kind.alias], m.sigPath, m.msgPath)));
    let verified = 0;
    results.forEach((r, i) => {
      expect(r.code, `${sigs[i].sigPath}: ${r.out}`).toBe(0);
      expect(r.out).toMatch(kind.okText);
      verified++;
    });
    expect(verified).toBe(PER_KIND);
    // openssl does reject: a one-bit change of the message, for one signature of each origin.
    for (const m of [sigs[0], sigs[PER_KIND - 1]]) {
      const flipped = `${m.msgPath}.flipped`;
      writeFileSync(flipped, flipBit(m.msg, randomInt(0, m.msg.length), randomInt(0, 8)));
      const r = await openssl(kind.openssl(pubPath[kind.alias], m.sigPath, flipped));
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).not.toMatch(kind.okText);
    }
  });
});

describe('kmsctl verify agrees with openssl', () => {
  it.each(KINDS.map((k) => [k.name, k] as const))('%s: `kmsctl verify` accepts each binary-made signature and rejects a one-bit-flipped message', async (_name, kind) => {
    const viaBinary = made[kind.name].filter((m) => m.viaBinary);
    const flippedOnes = viaBinary.slice(0, FLIPPED_VIA_BINARY).map((m) => {
      const flipped = `${m.msgPath}.flip-kms`;
      writeFileSync(flipped, flipBit(m.msg, randomInt(0, m.msg.length), randomInt(0, 8)));
      return { ...m, msgPath: flipped };
    });
    const jobs = [...viaBinary.map((m) => ({ m, good: true })), ...flippedOnes.map((m) => ({ m, good: false }))];
    expect(jobs).toHaveLength(VIA_BINARY + FLIPPED_VIA_BINARY);
    const runs = await pool(jobs, PARALLEL, ({ m }) => kmsAsync(['verify', kind.alias, '--in', m.msgPath, '--signature', m.sigPath, ...kind.signArgs, '--json'], { home }));
    runs.forEach((r, i) => {
      if (jobs[i].good) {
        expect(ok(r)).toMatchObject({ valid: true, version: 1 });
      } else {
        expect(r.code, r.stdout).toBe(1);
        expect(r.json?.error?.reason).toBe('signature-invalid');
      }
    });
  });

  it.each(KINDS.map((k) => [k.name, k] as const))('%s: the verify use-case accepts all 200 and rejects each with one bit of the message flipped', (_name, kind) => {
    const db = openLedger(home);
    try {
      const ctx = { db, now: () => new Date() };
      let accepted = 0;
      let rejected = 0;
      for (const m of made[kind.name]) {
        expect(verify(ctx, newScope(), kind.alias, m.msg, m.sig, kind.opts).version).toBe(1);
        accepted++;
        const flipped = flipBit(m.msg, randomInt(0, m.msg.length), randomInt(0, 8));
        let err: unknown;
        try {
          verify(ctx, newScope(), kind.alias, flipped, m.sig, kind.opts);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(KmsError);
        expect((err as KmsError).reason).toBe('signature-invalid');
        rejected++;
      }
      expect([accepted, rejected]).toEqual([PER_KIND, PER_KIND]);
    } finally {
      db.close();
    }
  });
});
