import type { Handler } from '../result.js';
import { wrap } from '../../keys/envelope-ops.js';
import { parseContextArgs, toText } from '../../envelope/index.js';
import { LIMITS, readInput, writeOutputAtomic } from '../io.js';
import { wrapBatch } from '../batch-ops.js';

export const run: Handler = async (rt, [ref], o) => {
  if (o.batch) return wrapBatch(rt, ref);
  const context = parseContextArgs((o.context as string[] | undefined) ?? []);
  const plaintext = readInput(o.in as string | undefined, 'wrap', LIMITS.plaintext);
  const ctx = await rt.keyCtx();
  const w = await rt.audited('wrap', (scope) => wrap(ctx, scope, ref, plaintext, context));
  plaintext.fill(0);
  const text = toText(w.blob);
  const data: Record<string, unknown> = { keyId: w.keyId, alias: w.alias, version: w.version, blob: text };
  if (o.out) {
    writeOutputAtomic(String(o.out), o.binary ? w.blob : `${text}\n`);
    data.out = o.out;
    return { data, text: '' };
  }
  return o.binary && !rt.flags.json ? { data, bytes: w.blob } : { data, text };
};
