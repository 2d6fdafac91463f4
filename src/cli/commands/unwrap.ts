import type { Handler } from '../result.js';
import { unwrap } from '../../keys/envelope-ops.js';
import { parseContextArgs } from '../../envelope/index.js';
import { readInput, writeOutputAtomic } from '../io.js';
import { unwrapBatch } from '../batch-ops.js';

export const run: Handler = async (rt, _args, o) => {
  if (o.batch) return unwrapBatch(rt);
  const context = parseContextArgs((o.context as string[] | undefined) ?? []);
  const input = readInput(o.in as string | undefined, 'unwrap');
  const ctx = await rt.keyCtx();
  const u = await rt.audited('unwrap', (scope) => unwrap(ctx, scope, input, context));
  const data: Record<string, unknown> = { keyId: u.keyId, alias: u.alias, version: u.version };
  if (o.out) {
    writeOutputAtomic(String(o.out), u.plaintext, 0o600);
    data.out = o.out;
    return { data, text: '' };
  }
  data.plaintext = u.plaintext.toString('base64');
  return { data, bytes: u.plaintext };
};
