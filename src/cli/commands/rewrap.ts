import type { Handler } from '../result.js';
import { rewrap } from '../../keys/envelope-ops.js';
import { parseContextArgs, toText } from '../../envelope/index.js';
import { LIMITS, readInput, writeOutputAtomic } from '../io.js';

export const run: Handler = async (rt, _args, o) => {
  const context = parseContextArgs((o.context as string[] | undefined) ?? []);
  const input = readInput(o.in as string | undefined, 'rewrap', LIMITS.blob);
  const ctx = await rt.keyCtx();
  const w = await rt.audited('rewrap', (scope) => rewrap(ctx, scope, input, context));
  const text = toText(w.blob);
  const data: Record<string, unknown> = { keyId: w.keyId, alias: w.alias, fromVersion: w.fromVersion, version: w.version, blob: text };
  if (o.out) {
    writeOutputAtomic(String(o.out), `${text}\n`);
    data.out = o.out;
    return { data, text: '' };
  }
  return { data, text };
};
