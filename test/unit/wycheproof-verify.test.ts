// The offline verify path against the public Wycheproof vectors in ../shared/vectors/wycheproof.
// Keys are rebuilt from raw material through our SPKI builders (as they would come off the token) and
// also taken from each group's own DER. A missing vectors folder fails this file: it never skips.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DIGEST_BYTES,
  ecdsaDerToRaw,
  spkiFromEcPoint,
  spkiFromEd25519,
  spkiFromRsa,
  verifyOffline,
  type Digest,
} from '../../src/crypto/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VECTORS = path.resolve(repoRoot, '..', 'shared', 'vectors', 'wycheproof');

type Result = 'valid' | 'invalid' | 'acceptable';

interface Case {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: Result;
}

interface Group {
  sha?: string;
  mgf?: string;
  mgfSha?: string;
  sLen?: number;
  keySize?: number;
  publicKey: Record<string, string | number>;
  publicKeyDer?: string;
  tests: Case[];
}

interface VectorFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: Group[];
}

function load(name: string): VectorFile {
  const file = path.join(VECTORS, name);
  if (!existsSync(file)) {
    throw new Error(`Wycheproof vectors missing: ${file} (expected the shared folder next to the repository)`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as VectorFile;
}

function expectedCounts(f: VectorFile): Record<Result, number> {
  const c: Record<Result, number> = { valid: 0, invalid: 0, acceptable: 0 };
  for (const g of f.testGroups) for (const t of g.tests) c[t.result]++;
  return c;
}

const hex = (s: string) => Buffer.from(s, 'hex');
const SHA: Record<string, Digest> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** CKA_EC_POINT as SoftHSM returns it: a DER OCTET STRING around the point (all points here are < 128 bytes). */
const wrapOctetString = (point: Buffer) => Buffer.concat([Buffer.from([0x04, point.length]), point]);

interface KeySource {
  name: string;
  spki: (g: Group) => Buffer;
}

interface Tally {
  valid: number;
  invalid: number;
  /** tcId -> whether we accepted it; recorded, never asserted. */
  acceptable: Map<number, boolean>;
  wrong: string[];
}

function runFile(
  f: VectorFile,
  source: KeySource,
  check: (spki: Buffer, g: Group, t: Case) => boolean,
): Tally {
  const tally: Tally = { valid: 0, invalid: 0, acceptable: new Map(), wrong: [] };
  for (const g of f.testGroups) {
    const spki = source.spki(g);
    if (g.publicKeyDer !== undefined) {
      // Our builders must produce exactly the encoding the vectors carry.
      expect(spki.toString('hex')).toBe(g.publicKeyDer);
    }
    for (const t of g.tests) {
      const ok = check(spki, g, t);
      if (t.result === 'acceptable') {
        tally.acceptable.set(t.tcId, ok);
        continue;
      }
      tally[t.result]++;
      if (ok !== (t.result === 'valid')) {
        tally.wrong.push(`tcId ${t.tcId} (${t.result}, ${t.flags.join(',')}: ${t.comment}) -> ${ok ? 'accepted' : 'rejected'}`);
      }
    }
  }
  return tally;
}

async function assertTally(
  f: VectorFile,
  t: Tally,
  annotate: (message: string) => Promise<unknown>,
): Promise<void> {
  const want = expectedCounts(f);
  expect(t.wrong).toEqual([]);
  expect(t.valid).toBeGreaterThan(0);
  expect(t.invalid).toBeGreaterThan(0);
  expect(t.valid).toBe(want.valid);
  expect(t.invalid).toBe(want.invalid);
  expect(t.acceptable.size).toBe(want.acceptable);
  expect(t.valid + t.invalid + t.acceptable.size).toBe(f.numberOfTests);
  const accepted = [...t.acceptable].filter(([, ok]) => ok).map(([id]) => id);
  await annotate(
    `valid ${t.valid}, invalid ${t.invalid}, acceptable ${t.acceptable.size}` +
      (t.acceptable.size ? ` (accepted tcIds: ${accepted.join(',') || 'none'})` : ''),
  );
}

describe('Wycheproof vectors folder', () => {
  it('is present next to the repository', () => {
    expect(existsSync(VECTORS), `missing ${VECTORS}`).toBe(true);
  });
});

const ECDSA_FILES = [
  { file: 'ecdsa_secp256r1_sha256_test.json', spec: 'ec-p256', curve: 'secp256r1', digest: 'sha256', fieldBytes: 32 },
  { file: 'ecdsa_secp384r1_sha384_test.json', spec: 'ec-p384', curve: 'secp384r1', digest: 'sha384', fieldBytes: 48 },
] as const;

for (const v of ECDSA_FILES) {
  describe(v.file, () => {
    const sources: KeySource[] = [
      { name: 'bare CKA_EC_POINT', spki: (g) => spkiFromEcPoint(v.spec, hex(String(g.publicKey.uncompressed))) },
      {
        name: 'wrapped CKA_EC_POINT',
        spki: (g) => spkiFromEcPoint(v.spec, wrapOctetString(hex(String(g.publicKey.uncompressed)))),
      },
      { name: 'publicKeyDer', spki: (g) => hex(g.publicKeyDer!) },
    ];

    for (const source of sources) {
      it(`verifies every DER case with the key from ${source.name}`, async ({ annotate }) => {
        const f = load(v.file);
        const tally = runFile(f, source, (spki, g, t) => {
          expect(g.publicKey.curve).toBe(v.curve);
          expect(SHA[g.sha!]).toBe(v.digest);
          return verifyOffline(v.spec, spki, hex(t.msg), hex(t.sig), { digest: v.digest, format: 'der' });
        });
        await assertTally(f, tally, annotate);
      });
    }

    it('gives the same answer in raw (P1363) format wherever the DER is strict', async ({ annotate }) => {
      const f = load(v.file);
      let strict = 0;
      const tally = runFile(f, sources[0]!, (spki, _g, t) => {
        const der = verifyOffline(v.spec, spki, hex(t.msg), hex(t.sig), { digest: v.digest });
        let raw: Buffer;
        try {
          raw = ecdsaDerToRaw(hex(t.sig), v.fieldBytes);
        } catch {
          return der;
        }
        strict++;
        expect(verifyOffline(v.spec, spki, hex(t.msg), raw, { digest: v.digest, format: 'raw' }), `tcId ${t.tcId}`).toBe(
          der,
        );
        return der;
      });
      await assertTally(f, tally, annotate);
      expect(strict).toBeGreaterThanOrEqual(tally.valid);
    });
  });
}

describe('ed25519_test.json', () => {
  const sources: KeySource[] = [
    { name: 'bare CKA_EC_POINT', spki: (g) => spkiFromEd25519(hex(String(g.publicKey.pk))) },
    { name: 'wrapped CKA_EC_POINT', spki: (g) => spkiFromEd25519(wrapOctetString(hex(String(g.publicKey.pk)))) },
    { name: 'publicKeyDer', spki: (g) => hex(g.publicKeyDer!) },
  ];
  for (const source of sources) {
    it(`verifies every case with the key from ${source.name}`, async ({ annotate }) => {
      const f = load('ed25519_test.json');
      const tally = runFile(f, source, (spki, g, t) => {
        expect(g.publicKey.curve).toBe('edwards25519');
        return verifyOffline('ed25519', spki, hex(t.msg), hex(t.sig));
      });
      await assertTally(f, tally, annotate);
    });
  }
});

describe('rsa_pss_2048_sha256_mgf1_32_test.json', () => {
  const sources: KeySource[] = [
    {
      name: 'CKA_MODULUS and CKA_PUBLIC_EXPONENT',
      spki: (g) => spkiFromRsa(hex(String(g.publicKey.modulus)), hex(String(g.publicKey.publicExponent))),
    },
    { name: 'publicKeyDer', spki: (g) => hex(g.publicKeyDer!) },
  ];
  for (const source of sources) {
    it(`verifies every case with the key from ${source.name}`, async ({ annotate }) => {
      const f = load('rsa_pss_2048_sha256_mgf1_32_test.json');
      const tally = runFile(f, source, (spki, g, t) => {
        // verifyOffline fixes PSS to MGF1 with the message digest and a salt as long as the digest.
        const digest = SHA[g.sha!]!;
        expect(g.keySize).toBe(2048);
        expect(g.mgf).toBe('MGF1');
        expect(SHA[g.mgfSha!]).toBe(digest);
        expect(g.sLen).toBe(DIGEST_BYTES[digest]);
        return verifyOffline('rsa-2048', spki, hex(t.msg), hex(t.sig), { digest, padding: 'pss' });
      });
      await assertTally(f, tally, annotate);
    });
  }
});
