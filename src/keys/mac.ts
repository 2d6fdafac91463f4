import { P as pkcs11js } from '../token/pkcs11.js';
import { checkFailed } from '../errors.js';
import type { KeyRow } from '../ledger/records.js';
import { keyForUse } from './resolve.js';
import type { AuditScope, KeyCtx } from './context.js';

const P = pkcs11js;
const HMAC = { mechanism: P.CKM_SHA256_HMAC };

export function mac(ctx: KeyCtx, scope: AuditScope, ref: string, message: Buffer): { mac: Buffer; key: KeyRow; version: number } {
  const { key, ver } = keyForUse(ctx.db, ref, 'mac', 'mac', ctx.now(), scope);
  scope.details.inputBytes = message.length;
  const h = ctx.token.findOne('secret', ver.cka_id, `${key.alias} v${ver.version}`);
  const out = ctx.token.sign(h, HMAC, message, 32);
  scope.uses.push({ keyId: key.id, version: ver.version, count: 1 });
  return { mac: out, key, version: ver.version };
}

/** Verified on the token (C_Verify compares in constant time there); exit 1 when it does not match. */
export function macVerify(ctx: KeyCtx, scope: AuditScope, ref: string, message: Buffer, tag: Buffer, version?: number): { key: KeyRow; version: number } {
  const { key, ver } = keyForUse(ctx.db, ref, 'mac', 'verify a MAC', ctx.now(), scope, version);
  scope.details.inputBytes = message.length;
  const h = ctx.token.findOne('secret', ver.cka_id, `${key.alias} v${ver.version}`);
  const ok = ctx.token.verify(h, HMAC, message, tag);
  scope.uses.push({ keyId: key.id, version: ver.version, count: 1 });
  if (!ok) throw checkFailed(`the MAC does not match for ${key.alias} v${ver.version}`, { reason: 'mac-invalid' });
  return { key, version: ver.version };
}
