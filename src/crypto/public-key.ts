// Public keys from token attributes, as SubjectPublicKeyInfo DER, so a signature can be checked later
// without the token. node:crypto builds the SPKI from a JWK, which also checks that an EC point lies
// on its curve.

import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { badData } from '../errors.js';
import { readDerHeader, TAG_OCTET_STRING } from './signature.js';

export const EC_CURVES = {
  'ec-p256': { jwkCurve: 'P-256', nodeCurve: 'prime256v1', fieldBytes: 32 },
  'ec-p384': { jwkCurve: 'P-384', nodeCurve: 'secp384r1', fieldBytes: 48 },
} as const;

export const ED25519_KEY_BYTES = 32;

/**
 * The point inside CKA_EC_POINT. SoftHSM returns it wrapped in a DER OCTET STRING; other tokens (and
 * PKCS#11 3.0 for Edwards keys) may return it bare, so both are accepted. A Weierstrass point must be
 * uncompressed (04||X||Y, 1 + 2*fieldBytes bytes); an Edwards point is fieldBytes bytes.
 *
 * Wrapped and bare forms cannot be confused: a wrapped point is always 2 or 3 bytes longer than a bare one,
 * and no wrapped total length equals an accepted bare length.
 */
export function unwrapEcPoint(attr: Buffer, fieldBytes: number): Buffer {
  if (!Number.isInteger(fieldBytes) || fieldBytes <= 0) throw badData(`field size ${fieldBytes} is not a positive integer`);
  const fits = (p: Buffer) =>
    (p.length === 1 + 2 * fieldBytes && p[0] === 0x04) || p.length === fieldBytes;
  if (fits(attr)) return Buffer.from(attr);

  let inner: Buffer;
  try {
    const { start, end } = readDerHeader(attr, 0, TAG_OCTET_STRING, 'CKA_EC_POINT');
    if (end !== attr.length) throw badData(`CKA_EC_POINT has ${attr.length - end} bytes after the OCTET STRING`);
    inner = attr.subarray(start, end);
  } catch (e) {
    throw badData(
      `CKA_EC_POINT of ${attr.length} bytes is neither a ${1 + 2 * fieldBytes}-byte uncompressed point, ` +
        `a ${fieldBytes}-byte Edwards point, nor a DER OCTET STRING around one`,
      { cause: e },
    );
  }
  if (!fits(inner)) {
    const hint = inner.length === 1 + fieldBytes && (inner[0] === 0x02 || inner[0] === 0x03) ? ' (a compressed point)' : '';
    throw badData(
      `CKA_EC_POINT holds ${inner.length} bytes${hint}; expected a ${1 + 2 * fieldBytes}-byte uncompressed point ` +
        `starting 0x04 or a ${fieldBytes}-byte Edwards point`,
    );
  }
  return Buffer.from(inner);
}

function spkiFromJwk(jwk: JsonWebKey, what: string): Buffer {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  } catch (e) {
    throw badData(`${what} is not a valid public key: ${(e as Error).message}`, { cause: e });
  }
}

export function spkiFromEcPoint(spec: 'ec-p256' | 'ec-p384', ecPointAttr: Buffer): Buffer {
  const curve = EC_CURVES[spec];
  if (!curve) throw badData(`${String(spec)} is not an EC spec`);
  const n = curve.fieldBytes;
  const point = unwrapEcPoint(ecPointAttr, n);
  if (point.length !== 1 + 2 * n) {
    throw badData(`${spec} needs a ${1 + 2 * n}-byte uncompressed point, CKA_EC_POINT holds ${point.length} bytes`);
  }
  const jwk = {
    kty: 'EC',
    crv: curve.jwkCurve,
    x: point.subarray(1, 1 + n).toString('base64url'),
    y: point.subarray(1 + n).toString('base64url'),
  };
  return spkiFromJwk(jwk, `${spec} CKA_EC_POINT`);
}

export function spkiFromEd25519(ecPointAttr: Buffer): Buffer {
  const point = unwrapEcPoint(ecPointAttr, ED25519_KEY_BYTES);
  if (point.length !== ED25519_KEY_BYTES) {
    throw badData(`an Ed25519 public key is ${ED25519_KEY_BYTES} bytes, CKA_EC_POINT holds ${point.length} bytes`);
  }
  return spkiFromJwk({ kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }, 'Ed25519 CKA_EC_POINT');
}

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

/** CKA_MODULUS and CKA_PUBLIC_EXPONENT are unsigned big-endian; leading zero bytes are tolerated. */
export function spkiFromRsa(modulus: Buffer, publicExponent: Buffer): Buffer {
  const n = stripLeadingZeros(modulus);
  const e = stripLeadingZeros(publicExponent);
  if (n.length === 0 || n[0] === 0) throw badData('RSA modulus is empty or zero');
  if (e.length === 0 || e[0] === 0) throw badData('RSA public exponent is empty or zero');
  const jwk = { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') };
  return spkiFromJwk(jwk, 'RSA CKA_MODULUS/CKA_PUBLIC_EXPONENT');
}

export function pemFromSpki(spki: Buffer): string {
  const b64 = spki.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}
