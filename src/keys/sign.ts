import pkcs11js from 'pkcs11js';
import { defaultDigest, digestInfo, ecdsaRawToDer, hashMessage, verifyOffline, DIGESTS, DIGEST_BYTES, type Digest, type Padding, type SigFormat, type SignSpec } from '../crypto/index.js';
import { usage, checkFailed, badData } from '../errors.js';
import { CKM_EDDSA, HASH_MECH, MGF_OF } from '../token/mechanisms.js';
import type { Handle } from '../token/token.js';
import type { KeyRow, VersionRow } from '../ledger/records.js';
import { rsaBits } from './specs.js';
import { keyForUse, requireKey, requireVersion } from './resolve.js';
import type { AuditScope, KeyCtx, LedgerCtx } from './context.js';

const P = pkcs11js;

export interface SignOptions {
  digest?: string;
  padding?: string;
  format?: string;
}

/** Options normalised for one spec; options that mean nothing for it are refused, never ignored. */
export interface SignParams {
  digest: Digest | null;
  padding?: Padding;
  format?: SigFormat;
}

export function signParams(spec: SignSpec, o: SignOptions): SignParams {
  if (o.digest !== undefined && !(DIGESTS as readonly string[]).includes(o.digest)) throw usage(`--digest must be one of ${DIGESTS.join(', ')}`);
  if (o.padding !== undefined && o.padding !== 'pss' && o.padding !== 'pkcs1') throw usage('--padding must be pss or pkcs1');
  if (o.format !== undefined && o.format !== 'der' && o.format !== 'raw') throw usage('--format must be der or raw');
  if (spec === 'ed25519') {
    if (o.digest !== undefined) throw usage('ed25519 signs the message itself: drop --digest');
    if (o.padding !== undefined) throw usage('--padding is for RSA keys');
    if (o.format === 'der') throw usage('an Ed25519 signature has no DER form: drop --format');
    return { digest: null };
  }
  const digest = (o.digest as Digest | undefined) ?? defaultDigest(spec)!;
  if (spec.startsWith('ec-')) {
    if (o.padding !== undefined) throw usage('--padding is for RSA keys');
    return { digest, format: (o.format as SigFormat | undefined) ?? 'der' };
  }
  if (o.format !== undefined) throw usage('--format is for ECDSA keys (RSA signatures have one form)');
  return { digest, padding: (o.padding as Padding | undefined) ?? 'pss' };
}

export interface SignKey {
  key: KeyRow;
  ver: VersionRow;
  handle: Handle;
  params: SignParams;
}

export function openSignKey(ctx: KeyCtx, scope: AuditScope, ref: string, o: SignOptions): SignKey {
  const { key, ver } = keyForUse(ctx.db, ref, 'sign', 'sign', ctx.now(), scope);
  const params = signParams(key.spec as SignSpec, o);
  Object.assign(scope.details, { digest: params.digest ?? undefined, padding: params.padding, format: params.format });
  return { key, ver, params, handle: ctx.token.findOne('private', ver.cka_id, `${key.alias} v${ver.version}`) };
}

const EC_FIELD: Record<string, number> = { 'ec-p256': 32, 'ec-p384': 48 };

export function signWith(ctx: KeyCtx, sk: SignKey, message: Buffer): Buffer {
  const spec = sk.key.spec;
  const { digest, padding, format } = sk.params;
  if (spec === 'ed25519') return ctx.token.sign(sk.handle, { mechanism: CKM_EDDSA }, message, 64);
  const hash = hashMessage(digest!, message);
  if (spec.startsWith('ec-')) {
    // SoftHSM has no CKM_ECDSA_SHA256 & co.: the hash is computed here and the token signs the digest.
    const raw = ctx.token.sign(sk.handle, { mechanism: P.CKM_ECDSA }, hash, 2 * EC_FIELD[spec]);
    return format === 'raw' ? raw : ecdsaRawToDer(raw);
  }
  const modulusBytes = rsaBits(spec)! / 8;
  if (padding === 'pkcs1') return ctx.token.sign(sk.handle, { mechanism: P.CKM_RSA_PKCS }, digestInfo(digest!, hash), modulusBytes);
  const parameter: pkcs11js.RsaPSS = { type: P.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECH[digest!], mgf: MGF_OF[digest!], saltLen: DIGEST_BYTES[digest!] };
  return ctx.token.sign(sk.handle, { mechanism: P.CKM_RSA_PKCS_PSS, parameter }, hash, modulusBytes);
}

export function sign(ctx: KeyCtx, scope: AuditScope, ref: string, message: Buffer, o: SignOptions): { signature: Buffer; key: KeyRow; version: number; params: SignParams } {
  const sk = openSignKey(ctx, scope, ref, o);
  scope.details.inputBytes = message.length;
  const signature = signWith(ctx, sk, message);
  scope.uses.push({ keyId: sk.key.id, version: sk.ver.version, count: 1 });
  return { signature, key: sk.key, version: sk.ver.version, params: sk.params };
}

/** Offline: the public key comes from the ledger; no token, no PIN. Throws check-failed (exit 1) when it does not verify. */
export function verify(ctx: LedgerCtx, scope: AuditScope, ref: string, message: Buffer, signature: Buffer, o: SignOptions & { version?: number }): { key: KeyRow; version: number; params: SignParams } {
  const key = requireKey(ctx.db, ref, scope);
  if (key.purpose !== 'sign') throw usage(`key ${key.alias} is a ${key.spec} key for ${key.purpose}; verify needs a signing key`, { reason: 'wrong-purpose' });
  const ver = requireVersion(ctx.db, key, o.version ?? key.primary_version, scope);
  if (ver.state === 'destroyed' || !ver.public_key) throw badData(`version ${ver.version} of ${key.alias} has no public key in the ledger (${ver.state})`);
  const params = signParams(key.spec as SignSpec, o);
  Object.assign(scope.details, { digest: params.digest ?? undefined, padding: params.padding, format: params.format, inputBytes: message.length });
  const ok = verifyOffline(key.spec as SignSpec, ver.public_key, message, signature, { digest: params.digest ?? undefined, padding: params.padding, format: params.format });
  if (!ok) {
    throw checkFailed(`the signature does not verify with ${key.alias} v${ver.version}`, { reason: 'signature-invalid', hint: o.version === undefined && ver.version > 1 ? 'signed before a rotation? pass --version N' : undefined });
  }
  return { key, version: ver.version, params };
}
