import type { Handler } from '../result.js';
import { mac } from '../../keys/mac.js';
import { LIMITS, readInput, writeOutputAtomic } from '../io.js';

export const run: Handler = async (rt, [ref], o) => {
  const message = readInput(o.in as string | undefined, 'mac', LIMITS.message);
  const ctx = await rt.keyCtx();
  const m = await rt.audited('mac', (scope) => mac(ctx, scope, ref, message));
  const data: Record<string, unknown> = { keyId: m.key.id, alias: m.key.alias, version: m.version, mac: m.mac.toString('base64') };
  if (o.out) {
    writeOutputAtomic(String(o.out), m.mac);
    data.out = o.out;
    return { data, text: '' };
  }
  return { data, text: m.mac.toString('base64') };
};
