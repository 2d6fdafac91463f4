// Offline signature verification from a stored SubjectPublicKeyInfo: no token, only node:crypto.
//
// A signature that does not verify, for whatever reason (wrong key, tampered message, garbage bytes,
// BER instead of DER, wrong length), gives false. Only arguments that cannot describe a verification
// throw: an unknown spec or digest, an SPKI that is unreadable or of another key type or size than
// the spec, and options that do not apply to the spec (a digest or padding for Ed25519, a padding for
// ECDSA, a format for RSA or Ed25519). Those throw rather than being ignored so that a caller never
// believes it checked, say, a prehashed Ed25519ph signature when pure Ed25519 was verified.

import { constants, createPublicKey, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { badData, usage } from '../errors.js';
import { EC_CURVES, ED25519_KEY_BYTES } from './public-key.js';
import { defaultDigest, ecdsaDerToRaw } from './signature.js';
import type { Digest, Padding, SigFormat, SignSpec } from './types.js';
import { DIGEST_BYTES, DIGESTS, SIGN_SPECS } from './types.js';

export interface VerifyParams {
  digest?: Digest;
  padding?: Padding;
  format?: SigFormat;
}

const RSA_BITS: Record<'rsa-2048' | 'rsa-3072' | 'rsa-4096', number> = {
  'rsa-2048': 2048,
  'rsa-3072': 3072,
  'rsa-4096': 4096,
};

function loadKey(spec: SignSpec, spki: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (e) {
    throw badData(`the stored public key for ${spec} is not a readable SubjectPublicKeyInfo`, { cause: e });
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (spec === 'ed25519') {
    if (type !== 'ed25519') throw badData(`spec ${spec} but the stored public key is ${type}`);
  } else if (spec === 'ec-p256' || spec === 'ec-p384') {
    const want = EC_CURVES[spec].nodeCurve;
    if (type !== 'ec' || details.namedCurve !== want) {
      throw badData(`spec ${spec} but the stored public key is ${type}${details.namedCurve ? ` on ${details.namedCurve}` : ''}`);
    }
  } else {
    if (type !== 'rsa' || details.modulusLength !== RSA_BITS[spec]) {
      throw badData(
        `spec ${spec} but the stored public key is ${type}${details.modulusLength ? `-${details.modulusLength}` : ''}`,
      );
    }
  }
  return key;
}

function tryVerify(
  digest: Digest | null,
  message: Buffer,
  key: KeyObject | VerifyKeyObjectInput,
  signature: Buffer,
): boolean {
  try {
    return verify(digest, message, key, signature);
  } catch {
    // OpenSSL raises for some malformed signatures (e.g. an RSA value not below the modulus).
    return false;
  }
}

export function verifyOffline(
  spec: SignSpec,
  spki: Buffer,
  message: Buffer,
  signature: Buffer,
  p: VerifyParams = {},
): boolean {
  if (!SIGN_SPECS.includes(spec)) throw usage(`unknown signing spec ${String(spec)}`);
  if (p.digest !== undefined && !DIGESTS.includes(p.digest)) throw usage(`unknown digest ${String(p.digest)}`);
  if (p.padding !== undefined && p.padding !== 'pss' && p.padding !== 'pkcs1') {
    throw usage(`unknown padding ${String(p.padding)}`);
  }
  if (p.format !== undefined && p.format !== 'der' && p.format !== 'raw') {
    throw usage(`unknown signature format ${String(p.format)}`);
  }

  if (spec === 'ed25519') {
    if (p.digest !== undefined) throw usage('Ed25519 signs the message itself: do not pass a digest');
    if (p.padding !== undefined) throw usage('padding applies to RSA keys only, not Ed25519');
    if (p.format !== undefined) throw usage('signature format applies to ECDSA only; Ed25519 signatures are 64 raw bytes');
    const key = loadKey(spec, spki);
    if (signature.length !== 2 * ED25519_KEY_BYTES) return false;
    return tryVerify(null, message, key, signature);
  }

  const digest = p.digest ?? defaultDigest(spec)!;

  if (spec === 'ec-p256' || spec === 'ec-p384') {
    if (p.padding !== undefined) throw usage('padding applies to RSA keys only, not ECDSA');
    const key = loadKey(spec, spki);
    const fieldBytes = EC_CURVES[spec].fieldBytes;
    let raw: Buffer;
    if ((p.format ?? 'der') === 'der') {
      // OpenSSL 3 also rejects non-canonical DER (it re-encodes and compares), but the rule is ours to
      // keep: parse strictly here and hand OpenSSL r||s, so no library version can loosen it.
      try {
        raw = ecdsaDerToRaw(signature, fieldBytes);
      } catch {
        return false;
      }
    } else {
      if (signature.length !== 2 * fieldBytes) return false;
      raw = signature;
    }
    return tryVerify(digest, message, { key, dsaEncoding: 'ieee-p1363' }, raw);
  }

  if (p.format !== undefined) throw usage('signature format applies to ECDSA only, not RSA');
  const key = loadKey(spec, spki);
  // RFC 8017 8.1.2 and 8.2.2 step 1: a signature that is not exactly k bytes is invalid.
  if (signature.length !== RSA_BITS[spec] / 8) return false;
  if ((p.padding ?? 'pss') === 'pss') {
    return tryVerify(
      digest,
      message,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: DIGEST_BYTES[digest] },
      signature,
    );
  }
  return tryVerify(digest, message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
}
