// Signature and digest formatting around what the token returns.
//
// The DER here is written by hand: the only structures are SEQUENCE { INTEGER r, INTEGER s } and the
// fixed DigestInfo prefixes, and verification needs byte-level strictness (no BER, no padded integers)
// that a general BER decoder would not give us anyway.

import { createHash } from 'node:crypto';
import { badData } from '../errors.js';
import type { Digest, SignSpec } from './types.js';
import { DIGEST_BYTES } from './types.js';

const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
const TAG_SEQUENCE = 0x30;

/**
 * Reads one DER tag-length header at `offset` and returns where its content lies.
 * Rejects indefinite lengths, long forms that a short form could express, and lengths past the buffer.
 * Lengths above 0xffff are refused: nothing this module reads is that large.
 */
export function readDerHeader(
  buf: Buffer,
  offset: number,
  tag: number,
  what: string,
): { start: number; end: number } {
  if (offset + 2 > buf.length) throw badData(`${what}: truncated DER header`);
  if (buf[offset] !== tag) {
    throw badData(`${what}: expected DER tag 0x${hex2(tag)}, found 0x${hex2(buf[offset]!)}`);
  }
  const first = buf[offset + 1]!;
  let len: number;
  let start: number;
  if (first < 0x80) {
    len = first;
    start = offset + 2;
  } else if (first === 0x81) {
    if (offset + 3 > buf.length) throw badData(`${what}: truncated DER length`);
    len = buf[offset + 2]!;
    if (len < 0x80) throw badData(`${what}: DER length ${len} uses the long form (BER, not DER)`);
    start = offset + 3;
  } else if (first === 0x82) {
    if (offset + 4 > buf.length) throw badData(`${what}: truncated DER length`);
    len = buf.readUInt16BE(offset + 2);
    if (len < 0x100) throw badData(`${what}: DER length ${len} has a redundant length byte (BER, not DER)`);
    start = offset + 4;
  } else if (first === 0x80) {
    throw badData(`${what}: indefinite length (BER, not DER)`);
  } else {
    throw badData(`${what}: DER length form 0x${hex2(first)} is not supported`);
  }
  const end = start + len;
  if (end > buf.length) throw badData(`${what}: DER length ${len} runs past the end of the data`);
  return { start, end };
}

function derHeader(tag: number, len: number): Buffer {
  if (len < 0x80) return Buffer.from([tag, len]);
  if (len <= 0xff) return Buffer.from([tag, 0x81, len]);
  if (len <= 0xffff) return Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  throw badData(`DER content of ${len} bytes is larger than this module encodes`);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Minimal DER INTEGER for an unsigned big-endian value: no leading zeros, one 0x00 if the high bit is set. */
function encodeUnsigned(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  let body = value.subarray(i);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([derHeader(TAG_INTEGER, body.length), body]);
}

/** IEEE P1363 r||s (what CKM_ECDSA returns) to the ECDSA-Sig-Value DER that X.509 and OpenSSL expect. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw badData(`raw ECDSA signature must be r||s of equal halves, got ${raw.length} bytes`);
  }
  const half = raw.length / 2;
  const body = Buffer.concat([encodeUnsigned(raw.subarray(0, half)), encodeUnsigned(raw.subarray(half))]);
  return Buffer.concat([derHeader(TAG_SEQUENCE, body.length), body]);
}

function readUnsigned(der: Buffer, offset: number, fieldBytes: number, name: string): { value: Buffer; next: number } {
  const what = `ECDSA signature integer ${name}`;
  const { start, end } = readDerHeader(der, offset, TAG_INTEGER, what);
  if (end === start) throw badData(`${what} is empty`);
  const first = der[start]!;
  if (first & 0x80) throw badData(`${what} is negative`);
  if (first === 0 && end - start > 1 && !(der[start + 1]! & 0x80)) {
    throw badData(`${what} has a redundant leading zero byte (not minimal DER)`);
  }
  const magnitude = first === 0 && end - start > 1 ? der.subarray(start + 1, end) : der.subarray(start, end);
  if (magnitude.length > fieldBytes) {
    throw badData(`${what} is ${magnitude.length} bytes, longer than the ${fieldBytes}-byte field`);
  }
  const value = Buffer.alloc(fieldBytes);
  magnitude.copy(value, fieldBytes - magnitude.length);
  return { value, next: end };
}

/** Strict DER ECDSA-Sig-Value to r||s, each left-padded to fieldBytes. Anything but canonical DER throws. */
export function ecdsaDerToRaw(der: Buffer, fieldBytes: number): Buffer {
  if (!Number.isInteger(fieldBytes) || fieldBytes <= 0) throw badData(`field size ${fieldBytes} is not a positive integer`);
  const seq = readDerHeader(der, 0, TAG_SEQUENCE, 'ECDSA signature');
  if (seq.end !== der.length) {
    throw badData(`ECDSA signature has ${der.length - seq.end} bytes after the DER SEQUENCE`);
  }
  const r = readUnsigned(der, seq.start, fieldBytes, 'r');
  const s = readUnsigned(der, r.next, fieldBytes, 's');
  if (s.next !== seq.end) throw badData('ECDSA signature SEQUENCE holds more than r and s');
  return Buffer.concat([r.value, s.value]);
}

// RFC 8017 section 9.2, note 1: DER of DigestInfo { AlgorithmIdentifier { oid, NULL }, OCTET STRING } up to the hash.
const DIGEST_INFO_PREFIX: Record<Digest, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** What CKM_RSA_PKCS must be given to produce an RSASSA-PKCS1-v1_5 signature over an outside-computed hash. */
export function digestInfo(digest: Digest, hash: Buffer): Buffer {
  const prefix = DIGEST_INFO_PREFIX[digest];
  if (!prefix) throw badData(`unknown digest ${String(digest)}`);
  if (hash.length !== DIGEST_BYTES[digest]) {
    throw badData(`a ${digest} hash is ${DIGEST_BYTES[digest]} bytes, got ${hash.length}`);
  }
  return Buffer.concat([prefix, hash]);
}

/** Ed25519 signs the message itself (pure EdDSA), so it has no digest. */
export function defaultDigest(spec: SignSpec): Digest | null {
  switch (spec) {
    case 'ec-p256':
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return 'sha256';
    case 'ec-p384':
      return 'sha384';
    case 'ed25519':
      return null;
  }
}

export function hashMessage(digest: Digest, msg: Buffer): Buffer {
  if (!(digest in DIGEST_BYTES)) throw badData(`unknown digest ${String(digest)}`);
  return createHash(digest).update(msg).digest();
}
