import { verifyOffline, type SignSpec } from '../crypto/index.js';
import { usage, checkFailed, badData } from '../errors.js';
import type { KeyRow } from '../ledger/records.js';
import { requireKey, requireVersion } from './resolve.js';
import { signParams, type SignOptions, type SignParams } from './sign-params.js';
import { aSpec } from './specs.js';
import type { AuditScope, LedgerCtx } from './context.js';

// Offline verification lives apart from signing so that `kmsctl verify` loads no PKCS#11 code at all.

/** Offline: the public key comes from the ledger; no token, no PIN. Throws check-failed (exit 1) when it does not verify. */
export function verify(ctx: LedgerCtx, scope: AuditScope, ref: string, message: Buffer, signature: Buffer, o: SignOptions & { version?: number }): { key: KeyRow; version: number; params: SignParams } {
  const key = requireKey(ctx.db, ref, scope);
  if (key.purpose !== 'sign') throw usage(`key ${key.alias} is ${aSpec(key.spec)} key for ${key.purpose}; verify needs a signing key`, { reason: 'wrong-purpose' });
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
