import {
  constants,
  createPublicKey,
  generateKeyPairSync,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DIGESTS,
  defaultDigest,
  digestInfo,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  hashMessage,
  pemFromSpki,
  spkiFromEcPoint,
  spkiFromEd25519,
  spkiFromRsa,
  unwrapEcPoint,
  verifyOffline,
  type Digest,
  type SignSpec,
} from '../../src/crypto/index.js';

const FIELDS = [32, 48, 66] as const; // P-256, P-384 and P-521 sizes; 66 makes the SEQUENCE use a long-form length

// An independent encoder through BigInt, so the hand-written DER is checked against arithmetic, not itself.
function refInteger(v: Buffer): Buffer {
  let h = BigInt(`0x${v.toString('hex') || '0'}`).toString(16);
  if (h.length % 2) h = `0${h}`;
  let b = Buffer.from(h, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}
function refDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([refInteger(raw.subarray(0, half)), refInteger(raw.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

function edgeValues(n: number): Buffer[] {
  const out: Buffer[] = [];
  const of = (...head: number[]) => {
    const b = Buffer.alloc(n);
    Buffer.from(head).copy(b, 0);
    return b;
  };
  const tail = (...t: number[]) => {
    const b = Buffer.alloc(n);
    Buffer.from(t).copy(b, n - t.length);
    return b;
  };
  out.push(Buffer.alloc(n)); // zero
  out.push(tail(1), tail(0x7f), tail(0x80), tail(0xff), tail(0x01, 0x00));
  out.push(Buffer.alloc(n, 0xff), Buffer.alloc(n, 0x7f), of(0x80), of(0x7f, 0xff), of(0x00, 0x80), of(0x00, 0x7f));
  for (let zeros = 1; zeros < n; zeros++) {
    for (const lead of [0x01, 0x7f, 0x80, 0xff]) {
      const b = randomBytes(n);
      b.fill(0, 0, zeros);
      b[zeros] = lead;
      out.push(b);
    }
  }
  return out;
}

/** Returns a description of the first disagreement, or null; one expect per batch keeps large sweeps fast. */
function roundTripFailure(raw: Buffer, n: number): string | null {
  const der = ecdsaRawToDer(raw);
  const want = refDer(raw);
  if (!der.equals(want)) return `raw ${raw.toString('hex')}: got ${der.toString('hex')}, want ${want.toString('hex')}`;
  if (!ecdsaDerToRaw(der, n).equals(raw)) return `raw ${raw.toString('hex')}: DER did not decode back`;
  return null;
}

function expectRoundTrips(raws: Iterable<Buffer>, n: number): void {
  const failures: string[] = [];
  let count = 0;
  for (const raw of raws) {
    count++;
    const f = roundTripFailure(raw, n);
    if (f && failures.length < 5) failures.push(f);
  }
  expect(failures).toEqual([]);
  expect(count).toBeGreaterThan(0);
}

describe('ecdsaRawToDer / ecdsaDerToRaw', () => {
  for (const n of FIELDS) {
    it(`round-trips every pair of edge values for ${n}-byte fields`, () => {
      const edges = edgeValues(n);
      expectRoundTrips(
        (function* () {
          for (const r of edges) for (const s of edges) yield Buffer.concat([r, s]);
        })(),
        n,
      );
    });

    it(`round-trips every leading byte of r and of s for ${n}-byte fields`, () => {
      const seconds = n === 32 ? Array.from({ length: 256 }, (_, i) => i) : [0x00, 0x01, 0x7f, 0x80, 0xff];
      expectRoundTrips(
        (function* () {
          for (let b0 = 0; b0 < 256; b0++) {
            for (const b1 of seconds) {
              const v = randomBytes(n);
              v[0] = b0;
              v[1] = b1;
              yield Buffer.concat([v, randomBytes(n)]);
              yield Buffer.concat([randomBytes(n), v]);
            }
          }
        })(),
        n,
      );
    });

    it(`round-trips 5000 random signatures for ${n}-byte fields`, () => {
      expectRoundTrips(
        (function* () {
          for (let i = 0; i < 5000; i++) yield randomBytes(2 * n);
        })(),
        n,
      );
    });
  }

  it('encodes small values minimally', () => {
    const one = Buffer.alloc(32);
    one[31] = 1;
    expect(ecdsaRawToDer(Buffer.concat([one, one])).toString('hex')).toBe('3006020101020101');
    const high = Buffer.alloc(32);
    high[31] = 0x80;
    expect(ecdsaRawToDer(Buffer.concat([high, Buffer.alloc(32)])).toString('hex')).toBe('300702020080020100');
    const full = Buffer.alloc(32, 0xff);
    expect(ecdsaRawToDer(Buffer.concat([full, full])).toString('hex')).toBe(
      `3046022100${'ff'.repeat(32)}022100${'ff'.repeat(32)}`,
    );
  });

  it('uses a long-form SEQUENCE length once the body reaches 128 bytes', () => {
    const der = ecdsaRawToDer(Buffer.alloc(132, 0xff));
    expect(der.subarray(0, 3).toString('hex')).toBe('30818a');
    expect(ecdsaDerToRaw(der, 66).equals(Buffer.alloc(132, 0xff))).toBe(true);
  });

  it('rejects a raw signature that is empty or of odd length', () => {
    expect(() => ecdsaRawToDer(Buffer.alloc(0))).toThrow(/equal halves/);
    expect(() => ecdsaRawToDer(Buffer.alloc(63))).toThrow(/equal halves/);
  });

  describe('strictness', () => {
    const r = Buffer.from(`7f${'11'.repeat(31)}`, 'hex');
    const s = Buffer.from(`80${'22'.repeat(31)}`, 'hex');
    const good = ecdsaRawToDer(Buffer.concat([r, s]));
    const rInt = `0220${r.toString('hex')}`;
    const sInt = `022100${s.toString('hex')}`;
    const seq = (body: string, len?: string) => Buffer.from(`30${len ?? (body.length / 2).toString(16).padStart(2, '0')}${body}`, 'hex');

    it('accepts the canonical encoding it is varied from', () => {
      expect(good.equals(seq(rInt + sInt))).toBe(true);
      expect(ecdsaDerToRaw(good, 32).equals(Buffer.concat([r, s]))).toBe(true);
    });

    const cases: Array<[string, Buffer, RegExp]> = [
      ['empty input', Buffer.alloc(0), /truncated/],
      ['a raw r||s', Buffer.concat([r, s]), /expected DER tag 0x30/],
      ['a SET instead of a SEQUENCE', Buffer.from(`31${good.subarray(1).toString('hex')}`, 'hex'), /tag 0x30/],
      ['indefinite length', Buffer.from(`3080${rInt}${sInt}0000`, 'hex'), /indefinite/],
      ['a long-form SEQUENCE length under 128', seq(rInt + sInt, '8145'), /long form/],
      ['a two-byte SEQUENCE length under 256', seq(rInt + sInt, '820045'), /redundant length byte/],
      ['a long-form INTEGER length', seq(`028120${r.toString('hex')}${sInt}`), /long form/],
      ['a redundant leading zero on r', seq(`022100${r.toString('hex')}${sInt}`), /redundant leading zero/],
      ['two leading zeros on s', seq(`02220000${s.toString('hex')}${rInt}`), /redundant leading zero/],
      ['a negative s (missing zero)', seq(`${rInt}0220${s.toString('hex')}`), /negative/],
      ['an empty INTEGER', seq(`0200${sInt}`), /empty/],
      ['r longer than the field', seq(`0221${'7f'.repeat(33)}${sInt}`), /longer than the 32-byte field/],
      ['a BIT STRING for r', seq(`0320${r.toString('hex')}${sInt}`), /tag 0x02/],
      ['a third INTEGER', seq(`${rInt}${sInt}020101`), /more than r and s/],
      ['only r', seq(rInt), /truncated/],
      ['a trailing byte', Buffer.concat([good, Buffer.from([0])]), /after the DER SEQUENCE/],
      ['a SEQUENCE length past the end', good.subarray(0, good.length - 1), /runs past the end/],
      ['an INTEGER length past the SEQUENCE', seq(`${rInt}0222${'00'.repeat(33)}`), /redundant leading zero|past the end/],
    ];
    for (const [name, der, message] of cases) {
      it(`rejects ${name}`, () => {
        expect(() => ecdsaDerToRaw(der, 32)).toThrow(message);
      });
    }

    it('rejects a short-form INTEGER that claims more than the SEQUENCE holds', () => {
      const body = `${rInt}0225${s.toString('hex')}`;
      expect(() => ecdsaDerToRaw(seq(body), 32)).toThrow(/past the end/);
    });

    it('accepts zero and one, which are encodable even though no signature uses them', () => {
      expect(ecdsaDerToRaw(Buffer.from('3006020100020101', 'hex'), 32).toString('hex')).toBe(
        `${'00'.repeat(32)}${'00'.repeat(31)}01`,
      );
    });
  });

  for (const [curve, spec, n] of [
    ['P-256', 'ec-p256', 32],
    ['P-384', 'ec-p384', 48],
  ] as const) {
    it(`agrees with node on ${curve} signatures, including ones whose r or s starts with a zero byte`, () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      let shortInts = 0;
      let highBit = 0;
      for (let i = 0; i < 20000 && (i < 300 || shortInts < 3); i++) {
        const msg = randomBytes(16);
        const der = sign(defaultDigest(spec), msg, { key: privateKey, dsaEncoding: 'der' });
        const raw = ecdsaDerToRaw(der, n);
        if (raw[0] === 0 || raw[n] === 0) shortInts++;
        if (raw[0]! & 0x80 || raw[n]! & 0x80) highBit++;
        // node's DER is canonical, so ours must reproduce it byte for byte.
        expect(ecdsaRawToDer(raw).equals(der)).toBe(true);
        expect(verifyOffline(spec, spki, msg, raw, { format: 'raw' })).toBe(true);
        expect(verifyOffline(spec, spki, msg, der)).toBe(true);

        const p1363 = sign(defaultDigest(spec), msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        expect(verifyOffline(spec, spki, msg, ecdsaRawToDer(p1363), { format: 'der' })).toBe(true);
      }
      expect(shortInts).toBeGreaterThanOrEqual(3);
      expect(highBit).toBeGreaterThan(0);
    });
  }
});

describe('unwrapEcPoint', () => {
  const point = Buffer.concat([Buffer.from([4]), randomBytes(64)]);
  const wrapped = Buffer.concat([Buffer.from([0x04, 0x41]), point]);

  it('unwraps the DER OCTET STRING SoftHSM returns', () => {
    expect(unwrapEcPoint(wrapped, 32).equals(point)).toBe(true);
  });
  it('accepts a bare uncompressed point', () => {
    expect(unwrapEcPoint(point, 32).equals(point)).toBe(true);
  });
  it('accepts wrapped and bare Ed25519 points', () => {
    const ed = randomBytes(32);
    expect(unwrapEcPoint(Buffer.concat([Buffer.from([0x04, 0x20]), ed]), 32).equals(ed)).toBe(true);
    expect(unwrapEcPoint(ed, 32).equals(ed)).toBe(true);
  });
  it('takes a long-form length for P-521-sized points', () => {
    const p521 = Buffer.concat([Buffer.from([4]), randomBytes(132)]);
    expect(unwrapEcPoint(Buffer.concat([Buffer.from([0x04, 0x81, 0x85]), p521]), 66).equals(p521)).toBe(true);
  });
  it('does not alias the attribute buffer', () => {
    const out = unwrapEcPoint(wrapped, 32);
    out[1] ^= 0xff;
    expect(wrapped[3]).not.toBe(out[1]);
  });

  const bad: Array<[string, Buffer, number]> = [
    ['a point of the wrong curve size', wrapped, 48],
    ['a compressed point', Buffer.concat([Buffer.from([0x04, 0x21, 0x02]), randomBytes(32)]), 32],
    ['an uncompressed-length point without 0x04', Buffer.concat([Buffer.from([0x04, 0x41, 0x05]), randomBytes(64)]), 32],
    ['a bare 65-byte value without 0x04', Buffer.concat([Buffer.from([0x05]), randomBytes(64)]), 32],
    ['trailing bytes after the OCTET STRING', Buffer.concat([wrapped, Buffer.from([0])]), 32],
    ['a truncated OCTET STRING', wrapped.subarray(0, 40), 32],
    ['a non-minimal OCTET STRING length', Buffer.concat([Buffer.from([0x04, 0x81, 0x41]), point]), 32],
    ['a BIT STRING', Buffer.concat([Buffer.from([0x03, 0x41]), point]), 32],
    ['an empty attribute', Buffer.alloc(0), 32],
  ];
  for (const [name, attr, n] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => unwrapEcPoint(attr, n)).toThrow(Error);
    });
  }
  it('names a compressed point in its message', () => {
    expect(() => unwrapEcPoint(bad[1]![1], 32)).toThrow(/compressed/);
  });
});

describe('SubjectPublicKeyInfo builders', () => {
  const wrap = (p: Buffer) => Buffer.concat([Buffer.from([0x04, p.length]), p]);

  for (const [curve, spec] of [
    ['P-256', 'ec-p256'],
    ['P-384', 'ec-p384'],
  ] as const) {
    it(`rebuilds node's own ${curve} SPKI from the point`, () => {
      for (let i = 0; i < 20; i++) {
        const { publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
        const jwk = publicKey.export({ format: 'jwk' });
        const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
        const want = publicKey.export({ type: 'spki', format: 'der' });
        expect(spkiFromEcPoint(spec, wrap(point)).equals(want)).toBe(true);
        expect(spkiFromEcPoint(spec, point).equals(want)).toBe(true);
      }
    });
  }

  it('refuses an EC point that is not on the curve', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const y = Buffer.from(jwk.y!, 'base64url');
    y[31] ^= 1;
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), y]);
    expect(() => spkiFromEcPoint('ec-p256', point)).toThrow(/not a valid public key/);
  });

  it('refuses a P-256 point for P-384 and an Ed25519 point for P-256', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(() => spkiFromEcPoint('ec-p384', spki.subarray(spki.length - 65))).toThrow(Error);
    expect(() => spkiFromEcPoint('ec-p256', randomBytes(32))).toThrow(/65-byte uncompressed point/);
  });

  it("rebuilds node's own Ed25519 SPKI from the point", () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = generateKeyPairSync('ed25519');
      const x = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
      const want = publicKey.export({ type: 'spki', format: 'der' });
      expect(spkiFromEd25519(wrap(x)).equals(want)).toBe(true);
      expect(spkiFromEd25519(x).equals(want)).toBe(true);
    }
  });

  it('refuses an uncompressed point as an Ed25519 key', () => {
    expect(() => spkiFromEd25519(Buffer.concat([Buffer.from([4]), randomBytes(64)]))).toThrow(/Ed25519/);
  });

  for (const bits of [2048, 3072]) {
    it(`rebuilds node's own RSA-${bits} SPKI from modulus and exponent`, () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      const jwk = publicKey.export({ format: 'jwk' });
      const n = Buffer.from(jwk.n!, 'base64url');
      const e = Buffer.from(jwk.e!, 'base64url');
      const want = publicKey.export({ type: 'spki', format: 'der' });
      expect(spkiFromRsa(n, e).equals(want)).toBe(true);
      // Some tokens return the attributes with leading zero bytes.
      expect(spkiFromRsa(Buffer.concat([Buffer.from([0, 0]), n]), Buffer.concat([Buffer.from([0]), e])).equals(want)).toBe(
        true,
      );
    });
  }

  it('refuses an empty or zero RSA modulus or exponent', () => {
    expect(() => spkiFromRsa(Buffer.alloc(0), Buffer.from([1, 0, 1]))).toThrow(/modulus/);
    expect(() => spkiFromRsa(Buffer.alloc(256), Buffer.from([1, 0, 1]))).toThrow(/modulus/);
    expect(() => spkiFromRsa(randomBytes(256), Buffer.from([0]))).toThrow(/exponent/);
  });
});

describe('pemFromSpki', () => {
  it("matches node's PEM export with 64-character lines and a trailing newline", () => {
    for (const key of [
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
      generateKeyPairSync('ed25519').publicKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    ]) {
      const pem = pemFromSpki(key.export({ type: 'spki', format: 'der' }));
      expect(pem).toBe(key.export({ type: 'spki', format: 'pem' }));
      const lines = pem.split('\n');
      expect(lines[0]).toBe('-----BEGIN PUBLIC KEY-----');
      expect(lines.at(-2)).toBe('-----END PUBLIC KEY-----');
      expect(lines.at(-1)).toBe('');
      const body = lines.slice(1, -2);
      for (const l of body.slice(0, -1)) expect(l).toHaveLength(64);
      expect(body.at(-1)!.length).toBeLessThanOrEqual(64);
      expect(createPublicKey(pem).equals(key)).toBe(true);
    }
  });

  it('does not leave an empty line when the base64 is a multiple of 64 characters', () => {
    const pem = pemFromSpki(randomBytes(96)); // 128 base64 characters
    expect(pem.split('\n')).toHaveLength(5);
  });
});

describe('digests', () => {
  it('picks the default digest per spec', () => {
    const want: Record<SignSpec, Digest | null> = {
      'ec-p256': 'sha256',
      'ec-p384': 'sha384',
      ed25519: null,
      'rsa-2048': 'sha256',
      'rsa-3072': 'sha256',
      'rsa-4096': 'sha256',
    };
    for (const [spec, d] of Object.entries(want)) expect(defaultDigest(spec as SignSpec)).toBe(d);
  });

  it('hashes with the named digest', () => {
    expect(hashMessage('sha256', Buffer.from('abc')).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashMessage('sha384', Buffer.alloc(0))).toHaveLength(48);
    expect(hashMessage('sha512', Buffer.alloc(0))).toHaveLength(64);
  });

  it('refuses a hash of the wrong length for the digest', () => {
    expect(() => digestInfo('sha256', Buffer.alloc(48))).toThrow(/32 bytes/);
    expect(() => digestInfo('sha512', Buffer.alloc(32))).toThrow(/64 bytes/);
  });
});

describe('digestInfo with RSASSA-PKCS1-v1_5', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const msg = Buffer.from('kmsctl signs this through CKM_RSA_PKCS');

  for (const d of DIGESTS) {
    it(`gives what node itself signs for ${d}`, () => {
      const info = digestInfo(d, hashMessage(d, msg));
      // What the token does with CKM_RSA_PKCS: pad the given bytes and apply the private key.
      const tokenStyle = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, info);
      const nodeSig = sign(d, msg, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
      expect(tokenStyle.equals(nodeSig)).toBe(true);
      expect(publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, nodeSig).equals(info)).toBe(true);
      expect(verifyOffline('rsa-2048', spki, msg, tokenStyle, { digest: d, padding: 'pkcs1' })).toBe(true);
      expect(verifyOffline('rsa-2048', spki, Buffer.from('other'), tokenStyle, { digest: d, padding: 'pkcs1' })).toBe(false);
      expect(verifyOffline('rsa-2048', spki, msg, tokenStyle, { digest: d, padding: 'pss' })).toBe(false);
    });
  }

  it('fails a PKCS#1 v1.5 signature over a bare hash without the DigestInfo', () => {
    const sig = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, hashMessage('sha256', msg));
    expect(verifyOffline('rsa-2048', spki, msg, sig, { padding: 'pkcs1' })).toBe(false);
  });
});

describe('verifyOffline', () => {
  const msg = Buffer.from('a message');
  const other = Buffer.from('a message.');
  const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ed = generateKeyPairSync('ed25519');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spkiOf = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });

  it('verifies ECDSA in DER (default) and raw format, with the default or a named digest', () => {
    for (const [spec, pair, n] of [
      ['ec-p256', ec256, 32],
      ['ec-p384', ec384, 48],
    ] as const) {
      const spki = spkiOf(pair.publicKey);
      const der = sign(defaultDigest(spec), msg, pair.privateKey);
      expect(verifyOffline(spec, spki, msg, der)).toBe(true);
      expect(verifyOffline(spec, spki, other, der)).toBe(false);
      expect(verifyOffline(spec, spki, msg, ecdsaDerToRaw(der, n), { format: 'raw' })).toBe(true);
      expect(verifyOffline(spec, spki, msg, ecdsaDerToRaw(der, n))).toBe(false);
      expect(verifyOffline(spec, spki, msg, der, { format: 'raw' })).toBe(false);
      const sha512 = sign('sha512', msg, pair.privateKey);
      expect(verifyOffline(spec, spki, msg, sha512, { digest: 'sha512' })).toBe(true);
      expect(verifyOffline(spec, spki, msg, sha512)).toBe(false);
    }
  });

  it('treats malformed signatures as false, never as an exception', () => {
    const cases: Array<[SignSpec, Buffer]> = [
      ['ec-p256', spkiOf(ec256.publicKey)],
      ['ec-p384', spkiOf(ec384.publicKey)],
      ['ed25519', spkiOf(ed.publicKey)],
      ['rsa-2048', spkiOf(rsa.publicKey)],
    ];
    for (const [spec, spki] of cases) {
      for (const sig of [Buffer.alloc(0), Buffer.alloc(1), randomBytes(64), randomBytes(96), randomBytes(256), Buffer.alloc(256, 0xff)]) {
        expect(verifyOffline(spec, spki, msg, sig)).toBe(false);
        if (spec.startsWith('ec-')) expect(verifyOffline(spec, spki, msg, sig, { format: 'raw' })).toBe(false);
        if (spec.startsWith('rsa-')) expect(verifyOffline(spec, spki, msg, sig, { padding: 'pkcs1' })).toBe(false);
      }
    }
  });

  it('verifies pure Ed25519 over the message', () => {
    const spki = spkiOf(ed.publicKey);
    const sig = sign(null, msg, ed.privateKey);
    expect(verifyOffline('ed25519', spki, msg, sig)).toBe(true);
    expect(verifyOffline('ed25519', spki, other, sig)).toBe(false);
    expect(verifyOffline('ed25519', spki, msg, Buffer.concat([sig, Buffer.from([0])]))).toBe(false);
  });

  it('verifies RSA-PSS only with a salt as long as the digest', () => {
    const spki = spkiOf(rsa.publicKey);
    const pss = (d: Digest, saltLength: number) =>
      sign(d, msg, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha256', 32))).toBe(true);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha256', 32), { padding: 'pss', digest: 'sha256' })).toBe(true);
    expect(verifyOffline('rsa-2048', spki, other, pss('sha256', 32))).toBe(false);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha256', 20))).toBe(false);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha256', 0))).toBe(false);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha384', 48), { digest: 'sha384' })).toBe(true);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha512', 64), { digest: 'sha512' })).toBe(true);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha512', 64))).toBe(false);
    expect(verifyOffline('rsa-2048', spki, msg, pss('sha256', 32), { padding: 'pkcs1' })).toBe(false);
  });

  it('rejects an RSA signature that is not exactly as long as the modulus, which OpenSSL alone accepts for PSS', () => {
    const spki = spkiOf(rsa.publicKey);
    const opts = { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    let found = false;
    for (let i = 0; i < 5000 && !found; i++) {
      const m = Buffer.from(`message ${i}`);
      const sig = sign('sha256', m, opts);
      if (sig[0] !== 0) continue;
      found = true;
      expect(verifyOffline('rsa-2048', spki, m, sig)).toBe(true);
      expect(verifyOffline('rsa-2048', spki, m, sig.subarray(1))).toBe(false);
      expect(verifyOffline('rsa-2048', spki, m, Buffer.concat([Buffer.from([0]), sig]))).toBe(false);
    }
    expect(found).toBe(true);
  });

  it('throws for options that do not apply to the spec', () => {
    const ecSpki = spkiOf(ec256.publicKey);
    const edSpki = spkiOf(ed.publicKey);
    const rsaSpki = spkiOf(rsa.publicKey);
    const sig = Buffer.alloc(64);
    expect(() => verifyOffline('ed25519', edSpki, msg, sig, { digest: 'sha512' })).toThrow(/do not pass a digest/);
    expect(() => verifyOffline('ed25519', edSpki, msg, sig, { padding: 'pss' })).toThrow(/RSA keys only/);
    expect(() => verifyOffline('ed25519', edSpki, msg, sig, { format: 'raw' })).toThrow(/ECDSA only/);
    expect(() => verifyOffline('ec-p256', ecSpki, msg, sig, { padding: 'pkcs1' })).toThrow(/RSA keys only/);
    expect(() => verifyOffline('rsa-2048', rsaSpki, msg, sig, { format: 'der' })).toThrow(/ECDSA only/);
    expect(() => verifyOffline('ec-p256', ecSpki, msg, sig, { digest: 'md5' as Digest })).toThrow(/unknown digest/);
    expect(() => verifyOffline('ec-p521' as SignSpec, ecSpki, msg, sig)).toThrow(/unknown signing spec/);
  });

  it('accepts explicitly undefined options as absent', () => {
    const spki = spkiOf(ed.publicKey);
    const sig = sign(null, msg, ed.privateKey);
    expect(verifyOffline('ed25519', spki, msg, sig, { digest: undefined, padding: undefined, format: undefined })).toBe(true);
  });

  it('throws when the stored key does not match the spec or is not an SPKI', () => {
    const sig = Buffer.alloc(64);
    expect(() => verifyOffline('ec-p384', spkiOf(ec256.publicKey), msg, sig)).toThrow(/prime256v1/);
    expect(() => verifyOffline('ec-p256', spkiOf(ed.publicKey), msg, sig)).toThrow(/ed25519/);
    expect(() => verifyOffline('ed25519', spkiOf(ec256.publicKey), msg, sig)).toThrow(/is ec/);
    expect(() => verifyOffline('rsa-3072', spkiOf(rsa.publicKey), msg, sig)).toThrow(/rsa-2048/);
    expect(() => verifyOffline('rsa-2048', spkiOf(ec256.publicKey), msg, sig)).toThrow(/is ec/);
    expect(() => verifyOffline('rsa-2048', randomBytes(40), msg, sig)).toThrow(/not a readable SubjectPublicKeyInfo/);
  });
});
