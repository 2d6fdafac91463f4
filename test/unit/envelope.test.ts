import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { InternalError, KmsError } from '../../src/errors.js';
import {
  MAX_PLAINTEXT,
  TEXT_PREFIX,
  aadFor,
  assertContextMatches,
  contextFingerprint,
  decodeBlob,
  encodeBlob,
  encodeContext,
  encodeHeader,
  fromText,
  parseContextArgs,
  readBlobInput,
  toText,
  type EncryptionContext,
  type WrappedBlob,
} from '../../src/envelope/index.js';

interface Vector {
  description: string;
  aesKeyHex: string;
  keyId: string;
  keyVersion: number;
  ivHex: string;
  context: EncryptionContext;
  plaintextHex: string;
  blobText: string;
  blobHex: string;
}

const { vectors } = JSON.parse(
  readFileSync(new URL('../fixtures/blob-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };

/** Runs fn and returns the KmsError it throws, failing the test if it throws anything else or nothing. */
function failure(fn: () => unknown): KmsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KmsError);
    const err = e as KmsError;
    // One line a person can act on.
    expect(err.message).not.toMatch(/\n/);
    expect(err.message.length).toBeGreaterThan(10);
    return err;
  }
  throw new Error('expected a KmsError, nothing was thrown');
}

function expectBadData(fn: () => unknown, reason: string): KmsError {
  const err = failure(fn);
  expect(err.code).toBe('bad-data');
  expect(err.reason).toBe(reason);
  return err;
}

function expectUsage(fn: () => unknown, reason: string): KmsError {
  const err = failure(fn);
  expect(err.code).toBe('usage');
  expect(err.reason).toBe(reason);
  return err;
}

const aesKey = Buffer.alloc(32, 0x42);

/** Wraps a data key the way the token does, with node:crypto standing in for the token's AES-GCM. */
function wrap(opts: { keyId?: string; keyVersion?: number; iv?: Buffer; ctx?: EncryptionContext; plaintext?: Buffer }) {
  const ctx = opts.ctx ?? {};
  const plaintext = opts.plaintext ?? Buffer.alloc(32, 0x07);
  const iv = opts.iv ?? Buffer.alloc(12, 0x01);
  const headerBytes = encodeHeader({
    keyId: opts.keyId ?? 'k1',
    keyVersion: opts.keyVersion ?? 1,
    iv,
    contextFingerprint: contextFingerprint(ctx),
    ciphertextLength: plaintext.length + 16,
  });
  const c = createCipheriv('aes-256-gcm', aesKey, iv);
  c.setAAD(aadFor(headerBytes, ctx));
  const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return { blob: encodeBlob(headerBytes, ct), headerBytes, ctx, plaintext };
}

function unwrap(blob: WrappedBlob, ctx: EncryptionContext, key: Buffer = aesKey): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, blob.iv);
  d.setAAD(aadFor(blob.headerBytes, ctx));
  d.setAuthTag(blob.ciphertext.subarray(blob.ciphertext.length - 16));
  return Buffer.concat([d.update(blob.ciphertext.subarray(0, blob.ciphertext.length - 16)), d.final()]);
}

/** The 54-byte smallest blob: key id "k", 1-byte data key. */
const small = () => Buffer.from(wrap({ keyId: 'k', plaintext: Buffer.from([9]) }).blob);

describe('golden vectors', () => {
  it('there are at least 4 and they cover the required cases', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
    expect(vectors.some((v) => Object.keys(v.context).length === 0)).toBe(true);
    expect(vectors.some((v) => v.plaintextHex.length === 2)).toBe(true);
    expect(vectors.some((v) => v.plaintextHex.length === 2 * MAX_PLAINTEXT)).toBe(true);
    expect(vectors.some((v) => Object.values(v.context).some((x) => /[^\x00-\x7f]/.test(x)))).toBe(true);
  });

  for (const v of vectors) {
    describe(v.description, () => {
      const bin = Buffer.from(v.blobHex, 'hex');

      it('decodes from binary and from text to the same fields', () => {
        const blob = decodeBlob(bin);
        expect(readBlobInput(Buffer.from(v.blobText))).toEqual(blob);
        expect(readBlobInput(bin)).toEqual(blob);
        expect(blob.keyId).toBe(v.keyId);
        expect(blob.keyVersion).toBe(v.keyVersion);
        expect(blob.iv.toString('hex')).toBe(v.ivHex);
        expect(blob.contextFingerprint).toEqual(contextFingerprint(v.context));
        expect(blob.ciphertextLength).toBe(v.plaintextHex.length / 2 + 16);
        expect(blob.ciphertext.length).toBe(blob.ciphertextLength);
        expect(blob.headerBytes.length).toBe(36 + v.keyId.length);
        expect(blob.headerBytes).toEqual(bin.subarray(0, 36 + v.keyId.length));
      });

      it('decrypts with the rebuilt AAD to the data key', () => {
        const blob = decodeBlob(bin);
        expect(unwrap(blob, v.context, Buffer.from(v.aesKeyHex, 'hex')).toString('hex')).toBe(v.plaintextHex);
      });

      it('re-encodes to the same bytes and the same text', () => {
        const blob = decodeBlob(bin);
        const headerBytes = encodeHeader({
          keyId: v.keyId,
          keyVersion: v.keyVersion,
          iv: Buffer.from(v.ivHex, 'hex'),
          contextFingerprint: contextFingerprint(v.context),
          ciphertextLength: blob.ciphertextLength,
        });
        expect(headerBytes).toEqual(blob.headerBytes);
        const again = encodeBlob(headerBytes, blob.ciphertext);
        expect(again.toString('hex')).toBe(v.blobHex);
        expect(toText(again)).toBe(v.blobText);
        expect(fromText(v.blobText)).toEqual(bin);
      });
    });
  }

  it('the sort-order vector puts U+FF61 before U+1F600 (UTF-8 order, not UTF-16 order)', () => {
    const v = vectors.find((x) => '\u{1F600}' in x.context)!;
    const enc = encodeContext(v.context);
    expect(enc.indexOf(Buffer.from('\uFF61'))).toBeLessThan(enc.indexOf(Buffer.from('\u{1F600}')));
  });
});

describe('round trips', () => {
  const cases: Array<[string, Parameters<typeof wrap>[0]]> = [
    ['smallest blob', { keyId: 'k', plaintext: Buffer.from([0]) }],
    ['largest data key and longest key id', { keyId: 'x'.repeat(64), plaintext: Buffer.alloc(MAX_PLAINTEXT, 0xab) }],
    ['context with many entries', { ctx: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, `v${i}`])) }],
    ['largest key version', { keyVersion: 0xffffffff }],
  ];
  for (const [name, opts] of cases) {
    it(name, () => {
      const { blob, ctx, plaintext, headerBytes } = wrap(opts);
      for (const decoded of [decodeBlob(blob), readBlobInput(Buffer.from(toText(blob) + '\n'))]) {
        expect(decoded.headerBytes).toEqual(headerBytes);
        expect(unwrap(decoded, ctx)).toEqual(plaintext);
        expect(encodeBlob(decoded.headerBytes, decoded.ciphertext)).toEqual(blob);
      }
      expect(fromText(toText(blob))).toEqual(blob);
    });
  }

  it('text form is the prefix plus unpadded base64url', () => {
    const t = toText(small());
    expect(t.startsWith(TEXT_PREFIX)).toBe(true);
    expect(t.slice(TEXT_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('decoded buffers do not alias the input', () => {
    const bin = small();
    const blob = decodeBlob(bin);
    bin.fill(0);
    expect(blob.headerBytes.subarray(0, 4).toString()).toBe('KMSW');
  });
});

describe('decodeBlob preconditions', () => {
  it('too-short', () => {
    for (const n of [0, 1, 6]) {
      const err = expectBadData(() => decodeBlob(small().subarray(0, n)), 'too-short');
      expect(err.message).toContain(`${n} bytes`);
    }
  });

  it('looks-like-text', () => {
    const err = expectBadData(() => decodeBlob(Buffer.from(toText(small()))), 'looks-like-text');
    expect(err.hint).toBeTruthy();
  });

  it('bad-magic', () => {
    const b = small();
    b[0] = 0x00;
    const err = expectBadData(() => decodeBlob(b), 'bad-magic');
    expect(err.message).toContain('KMSW');
  });

  it('unsupported-version', () => {
    const b = small();
    b[4] = 0x02;
    const err = expectBadData(() => decodeBlob(b), 'unsupported-version');
    expect(err.message).toContain('version 2');
    expect(err.message).toContain('reads version 1');
    expect(err.hint).toMatch(/upgrade/);
  });

  it('unknown-algorithm', () => {
    const b = small();
    b[5] = 0x7f;
    expect(expectBadData(() => decodeBlob(b), 'unknown-algorithm').message).toContain('0x7f');
  });

  it('bad-key-id', () => {
    const zeroLen = small();
    zeroLen[6] = 0;
    expect(expectBadData(() => decodeBlob(zeroLen), 'bad-key-id').message).toContain('length is 0');
    const tooLong = small();
    tooLong[6] = 65;
    expect(expectBadData(() => decodeBlob(tooLong), 'bad-key-id').message).toContain('length is 65');
    const badChar = Buffer.from(wrap({ keyId: 'abc' }).blob);
    badChar[8] = 0xff;
    const err = expectBadData(() => decodeBlob(badChar), 'bad-key-id');
    expect(err.message).toContain('0xff at position 1');
    badChar[8] = 0x2e; // '.'
    expectBadData(() => decodeBlob(badChar), 'bad-key-id');
  });

  it('bad-key-version', () => {
    const b = small();
    b.writeUInt32BE(0, 8);
    expectBadData(() => decodeBlob(b), 'bad-key-version');
  });

  it('bad-iv-length', () => {
    const b = small();
    b[12] = 16;
    expect(expectBadData(() => decodeBlob(b), 'bad-iv-length').message).toContain('16');
  });

  it('truncated', () => {
    const b = small();
    // Cut inside the ciphertext: the header is whole, so the exact shortfall is known.
    expect(expectBadData(() => decodeBlob(b.subarray(0, 50)), 'truncated').message).toContain('4 bytes missing');
    // Cut inside the header: only a lower bound is known (header + smallest ciphertext), and the
    // numbers in the message add up: 20 bytes + 34 missing = a 37-byte header + 17 bytes of ciphertext.
    expect(expectBadData(() => decodeBlob(b.subarray(0, 20)), 'truncated').message).toBe(
      'blob is truncated: 20 bytes, but its header alone is 37 bytes and at least 17 bytes of ciphertext follow it' +
        ' (at least 34 bytes missing: 17 of the header, 17 or more of the ciphertext)',
    );
    // The same sum for every cut inside the header.
    for (let n = 8; n < 37; n++) {
      const m = /^blob is truncated: (\d+) bytes, but its header alone is (\d+) bytes and at least (\d+) bytes of ciphertext follow it \(at least (\d+) bytes missing: (\d+) of the header, (\d+) or more of the ciphertext\)$/.exec(
        expectBadData(() => decodeBlob(b.subarray(0, n)), 'truncated').message,
      )!;
      const [got, header, minCt, missing, ofHeader, ofCt] = m.slice(1).map(Number);
      expect([got, header, minCt, ofCt]).toEqual([n, 37, 17, 17]);
      expect(got + ofHeader).toBe(header);
      expect(ofHeader + ofCt).toBe(missing);
    }
    // Every cut from the fixed prefix on is reported as truncated, never as a crash or another reason.
    for (let n = 7; n < b.length; n++) expectBadData(() => decodeBlob(b.subarray(0, n)), 'truncated');
  });

  it('trailing-bytes', () => {
    const b = Buffer.concat([small(), Buffer.from('\n')]);
    const err = expectBadData(() => decodeBlob(b), 'trailing-bytes');
    expect(err.message).toContain('1 unexpected bytes');
  });

  it('bad-ciphertext-length', () => {
    for (const n of [0, 16, 4113, 0xffffffff]) {
      const b = small();
      b.writeUInt32BE(n, 33);
      expect(expectBadData(() => decodeBlob(b), 'bad-ciphertext-length').message).toContain(`${n}`);
    }
  });

  it('no message carries ciphertext or IV bytes', () => {
    const { blob } = wrap({ plaintext: Buffer.alloc(32, 0x5a) });
    const decoded = decodeBlob(blob);
    const secrets = [decoded.ciphertext.toString('hex'), decoded.ciphertext.subarray(0, 4).toString('hex')];
    const broken = [blob.subarray(0, blob.length - 1), Buffer.concat([blob, Buffer.from([1])])];
    for (const b of broken) {
      const err = failure(() => decodeBlob(b));
      for (const s of secrets) expect(err.message).not.toContain(s);
    }
  });
});

describe('readBlobInput and text strictness', () => {
  it('empty', () => {
    expectBadData(() => readBlobInput(Buffer.alloc(0)), 'empty');
    expectBadData(() => readBlobInput(Buffer.from(' \n\t\r\n')), 'empty');
  });

  it('not-a-blob', () => {
    const err = expectBadData(() => readBlobInput(Buffer.from('hello world\n')), 'not-a-blob');
    expect(err.message).toBe(
      'not a kmsctl blob: expected text starting with kmsctl:v1: or binary starting with KMSW',
    );
    expect(err.hint).toBeUndefined();
  });

  it('not-a-blob hints when only the text prefix is missing', () => {
    const bare = toText(small()).slice(TEXT_PREFIX.length);
    expect(expectBadData(() => readBlobInput(Buffer.from(bare)), 'not-a-blob').hint).toContain(TEXT_PREFIX);
  });

  it('unsupported-version for another text version', () => {
    const body = toText(small()).slice(TEXT_PREFIX.length);
    const err = expectBadData(() => readBlobInput(Buffer.from(`kmsctl:v9:${body}`)), 'unsupported-version');
    expect(err.message).toContain('v9');
    expect(err.message).toContain(TEXT_PREFIX);
  });

  it('detects text with surrounding whitespace and binary as is', () => {
    const bin = small();
    const expected = decodeBlob(bin);
    expect(readBlobInput(Buffer.from(`\n  ${toText(bin)}\r\n\n`))).toEqual(expected);
    expect(readBlobInput(bin)).toEqual(expected);
  });

  it('binary input is not trimmed at its end: a trailing newline is trailing-bytes', () => {
    expectBadData(() => readBlobInput(Buffer.concat([small(), Buffer.from('\n')])), 'trailing-bytes');
  });

  it('base64-damaged: a character outside base64url', () => {
    const t = toText(small());
    const err = expectBadData(() => fromText(t.slice(0, 20) + '%' + t.slice(21)), 'base64-damaged');
    expect(err.message).toContain("'%' at position 20");
    expectBadData(() => readBlobInput(Buffer.from(t.slice(0, 20) + '\u00e9' + t.slice(21), 'latin1')), 'base64-damaged');
  });

  it('base64-damaged: standard base64 alphabet or padding', () => {
    const t = toText(small());
    expect(expectBadData(() => fromText(t + '=='), 'base64-damaged').hint).toContain('base64url');
    expect(expectBadData(() => fromText(t.slice(0, 20) + '+' + t.slice(21)), 'base64-damaged').hint).toContain(
      'base64url',
    );
  });

  it('base64-damaged: a line break inside', () => {
    const t = toText(small());
    const err = expectBadData(() => fromText(t.slice(0, 40) + '\n' + t.slice(40)), 'base64-damaged');
    expect(err.message).toContain('0x0a');
    expect(err.hint).toContain('one line');
  });

  it('base64-damaged: a dangling character or non-zero spare bits', () => {
    const t = toText(small()); // 54 bytes -> 72 characters, no spare bits
    expectBadData(() => fromText(t + 'A'), 'base64-damaged');
    const t2 = toText(small().subarray(0, 53)); // 53 bytes -> 71 characters, 2 spare bits in the last one
    const last = t2[t2.length - 1];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1];
    expectBadData(() => fromText(t2.slice(0, -1) + sibling), 'base64-damaged');
    expectBadData(() => fromText(TEXT_PREFIX), 'base64-damaged');
  });

  it('a bit flip in any header byte makes decode fail or changes the AAD', () => {
    const { blob, ctx } = wrap({ keyId: 'key-7', ctx: { a: 'b' } });
    const original = aadFor(decodeBlob(blob).headerBytes, ctx);
    const headerLen = 36 + 5;
    let rejected = 0;
    for (let i = 0; i < headerLen; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = Buffer.from(blob);
        b[i] ^= 1 << bit;
        let decoded: WrappedBlob;
        try {
          decoded = decodeBlob(b);
        } catch (e) {
          expect(e).toBeInstanceOf(KmsError);
          rejected++;
          continue;
        }
        expect(aadFor(decoded.headerBytes, ctx)).not.toEqual(original);
        expect(() => unwrap(decoded, ctx)).toThrow();
      }
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('any changed text character fails to read or fails GCM authentication', () => {
    const t = toText(wrap({ keyId: 'key-7', ctx: { a: 'b' }, plaintext: Buffer.alloc(5, 1) }).blob);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let authFailures = 0;
    for (let i = TEXT_PREFIX.length; i < t.length; i++) {
      const c = alphabet[(alphabet.indexOf(t[i]) + 1) % 64];
      const damaged = Buffer.from(t.slice(0, i) + c + t.slice(i + 1));
      let decoded: WrappedBlob;
      try {
        decoded = readBlobInput(damaged);
      } catch (e) {
        expect(e).toBeInstanceOf(KmsError);
        continue;
      }
      expect(() => unwrap(decoded, { a: 'b' })).toThrow(/authenticate/);
      authFailures++;
    }
    expect(authFailures).toBeGreaterThan(0);
  });
});

describe('encryption context', () => {
  it('parses key=value pairs, splitting on the first =', () => {
    expect(parseContextArgs(['app=billing', 'q=a=b', 'empty='])).toEqual({ app: 'billing', q: 'a=b', empty: '' });
    expect(parseContextArgs([])).toEqual({});
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const ctx = parseContextArgs(['__proto__=x']);
    expect(Object.keys(ctx)).toEqual(['__proto__']);
    expect(encodeContext(ctx).subarray(2, 4).readUInt16BE()).toBe(9);
  });

  it('rejects a pair without =, an empty key and a duplicate key (naming it)', () => {
    expectUsage(() => parseContextArgs(['app']), 'context-missing-equals');
    expectUsage(() => parseContextArgs(['=v']), 'context-empty-key');
    const err = expectUsage(() => parseContextArgs(['tenant=a', 'app=b', 'tenant=c']), 'context-duplicate-key');
    expect(err.message).toContain('"tenant"');
  });

  it('encodes the empty context as 0x0000', () => {
    expect(encodeContext({}).toString('hex')).toBe('0000');
  });

  it('encodes entries sorted by UTF-8 key bytes with u16 lengths', () => {
    const enc = encodeContext({ b: 'é', a: '' });
    expect(enc.toString('hex')).toBe(['0002', '0001', '61', '0000', '0001', '62', '0002', 'c3a9'].join(''));
    // Insertion order does not matter.
    expect(encodeContext({ a: '', b: 'é' })).toEqual(enc);
    // Byte order differs from UTF-16 order above U+FFFF.
    const sorted = encodeContext({ '\u{1F600}': '1', '\uFF61': '2' });
    expect(sorted.subarray(2, 7).toString('hex')).toBe('0003efbda1');
  });

  it('fingerprint is the first 8 bytes of SHA-256 over the encoding', () => {
    const ctx = { tenant: 'Zürich' };
    const full = createHash('sha256').update(encodeContext(ctx)).digest();
    expect(contextFingerprint(ctx)).toEqual(full.subarray(0, 8));
    expect(contextFingerprint({})).toEqual(createHash('sha256').update(Buffer.from([0, 0])).digest().subarray(0, 8));
  });

  it('enforces the entry count limit (64)', () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v`);
    expect(Object.keys(parseContextArgs(entries(64)))).toHaveLength(64);
    expectUsage(() => parseContextArgs(entries(65)), 'context-too-many-entries');
  });

  it('enforces the key length limit (1..128 bytes of UTF-8)', () => {
    expect(encodeContext({ ['k'.repeat(128)]: 'v' }).length).toBe(2 + 2 + 128 + 2 + 1);
    expectUsage(() => encodeContext({ ['k'.repeat(129)]: 'v' }), 'context-key-too-long');
    // 64 two-byte characters are 128 bytes; 65 are 130.
    encodeContext({ ['é'.repeat(64)]: 'v' });
    expectUsage(() => encodeContext({ ['é'.repeat(65)]: 'v' }), 'context-key-too-long');
    expectUsage(() => encodeContext({ '': 'v' }), 'context-empty-key');
  });

  it('enforces the value length limit (0..1024 bytes of UTF-8)', () => {
    encodeContext({ k: 'v'.repeat(1024) });
    expectUsage(() => encodeContext({ k: 'v'.repeat(1025) }), 'context-value-too-long');
    expectUsage(() => parseContextArgs([`k=${'é'.repeat(513)}`]), 'context-value-too-long');
  });

  it('rejects a lone surrogate, which UTF-8 cannot carry', () => {
    expectUsage(() => encodeContext({ ['a\uD800']: 'v' }), 'context-not-utf8');
  });

  it('names a wrong context before decryption with context-mismatch', () => {
    const { blob } = wrap({ ctx: { app: 'billing' } });
    const decoded = decodeBlob(blob);
    assertContextMatches(decoded, { app: 'billing' });
    expectBadData(() => assertContextMatches(decoded, { app: 'payroll' }), 'context-mismatch');
    expect(() => unwrap(decoded, { app: 'payroll' })).toThrow(/authenticate/);
  });
});

describe('encoder guards', () => {
  const base = {
    keyId: 'k1',
    keyVersion: 1,
    iv: Buffer.alloc(12),
    contextFingerprint: Buffer.alloc(8),
    ciphertextLength: 48,
  };

  it('rejects a key id the decoder would refuse', () => {
    for (const keyId of ['', 'x'.repeat(65), 'has space', 'dot.ted', 'ü']) {
      expectUsage(() => encodeHeader({ ...base, keyId }), 'bad-key-id');
    }
  });

  it('rejects a data key outside 1..4096 bytes', () => {
    expectUsage(() => encodeHeader({ ...base, ciphertextLength: 16 }), 'bad-plaintext-length');
    const err = expectUsage(() => encodeHeader({ ...base, ciphertextLength: 4097 + 16 }), 'bad-plaintext-length');
    expect(err.message).toContain('4097 bytes');
  });

  it('treats impossible values from the ledger or token as internal errors', () => {
    expect(() => encodeHeader({ ...base, keyVersion: 0 })).toThrow(InternalError);
    expect(() => encodeHeader({ ...base, keyVersion: 2 ** 32 })).toThrow(InternalError);
    expect(() => encodeHeader({ ...base, iv: Buffer.alloc(16) })).toThrow(InternalError);
    expect(() => encodeHeader({ ...base, contextFingerprint: Buffer.alloc(32) })).toThrow(InternalError);
  });

  it('encodeBlob and aadFor refuse a ciphertext or header that does not match', () => {
    const header = encodeHeader(base);
    expect(() => encodeBlob(header, Buffer.alloc(47))).toThrow(InternalError);
    expect(() => encodeBlob(header.subarray(1), Buffer.alloc(48))).toThrow(InternalError);
    expect(() => aadFor(Buffer.concat([header, Buffer.alloc(1)]), {})).toThrow(InternalError);
    expect(encodeBlob(header, Buffer.alloc(48))).toHaveLength(header.length + 48);
  });
});
