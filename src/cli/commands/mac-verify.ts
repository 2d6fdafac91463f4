import type { Handler } from '../result.js';
import { macVerify } from '../../keys/mac.js';
import { usage } from '../../errors.js';
import { parseVersion, rawOrBase64, LIMITS, readInput } from '../io.js';

export const run: Handler = async (rt, [ref], o) => {
  if (o.mac === undefined) throw usage('mac-verify needs --mac FILE');
  const message = readInput(o.in as string | undefined, 'mac-verify', LIMITS.message);
  const tag = rawOrBase64(readInput(String(o.mac), 'mac-verify --mac', LIMITS.mac), 'the MAC file');
  const version = parseVersion(o.version);
  const ctx = await rt.keyCtx();
  const v = await rt.audited('mac-verify', (scope) => macVerify(ctx, scope, ref, message, tag, version));
  return { data: { valid: true, keyId: v.key.id, alias: v.key.alias, version: v.version }, text: `MAC OK (${v.key.alias} v${v.version})` };
};
