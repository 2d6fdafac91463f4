import { P as pkcs11js, type RsaPSS } from '../token/pkcs11.js';
import { digestInfo, ecdsaRawToDer, hashMessage, DIGEST_BYTES, type SignSpec } from '../crypto/index.js';
import { signParams, type SignOptions, type SignParams } from './sign-params.js';

export { signParams, type SignOptions, type SignParams } from './sign-params.js';
import { CKM_EDDSA, HASH_MECH, MGF_OF } from '../token/mechanisms.js';
import type { Handle } from '../token/token.js';
import type { KeyRow, VersionRow } from '../ledger/records.js';
import { rsaBits } from './specs.js';
import { keyForUse } from './resolve.js';
import type { AuditScope, KeyCtx } from './context.js';

const P = pkcs11js;

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
  const parameter: RsaPSS = { type: P.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECH[digest!], mgf: MGF_OF[digest!], saltLen: DIGEST_BYTES[digest!] };
  return ctx.token.sign(sk.handle, { mechanism: P.CKM_RSA_PKCS_PSS, parameter }, hash, modulusBytes);
}

export function sign(ctx: KeyCtx, scope: AuditScope, ref: string, message: Buffer, o: SignOptions): { signature: Buffer; key: KeyRow; version: number; params: SignParams } {
  const sk = openSignKey(ctx, scope, ref, o);
  scope.details.inputBytes = message.length;
  const signature = signWith(ctx, sk, message);
  scope.uses.push({ keyId: sk.key.id, version: sk.ver.version, count: 1 });
  return { signature, key: sk.key, version: sk.ver.version, params: sk.params };
}
