import type { Handler } from '../result.js';
import { verify } from '../../keys/verify.js';
import { usage } from '../../errors.js';
import { parseVersion, rawOrBase64, LIMITS, readInput } from '../io.js';

export const run: Handler = async (rt, [ref], o) => {
  if (o.signature === undefined) throw usage('verify needs --signature FILE');
  const message = readInput(o.in as string | undefined, 'verify', LIMITS.message);
  const signature = rawOrBase64(readInput(String(o.signature), 'verify --signature', LIMITS.signature), 'the signature file');
  const version = parseVersion(o.version);
  const ctx = rt.ledgerCtx();
  const v = await rt.audited('verify', (scope) => verify(ctx, scope, ref, message, signature, { digest: o.digest as string | undefined, padding: o.padding as string | undefined, format: o.format as string | undefined, version }));
  return { data: { valid: true, keyId: v.key.id, alias: v.key.alias, version: v.version, ...v.params }, text: `signature OK (${v.key.alias} v${v.version})` };
};
