import type { Handler } from '../result.js';
import { sign } from '../../keys/sign.js';
import { LIMITS, readInput, writeOutputAtomic } from '../io.js';
import { signBatch } from '../batch-ops.js';

export const run: Handler = async (rt, [ref], o) => {
  if (o.batch) return signBatch(rt, ref, { digest: o.digest as string | undefined, padding: o.padding as string | undefined, format: o.format as string | undefined });
  const message = readInput(o.in as string | undefined, 'sign', LIMITS.message);
  const ctx = await rt.keyCtx();
  const s = await rt.audited('sign', (scope) => sign(ctx, scope, ref, message, { digest: o.digest as string | undefined, padding: o.padding as string | undefined, format: o.format as string | undefined }));
  const data: Record<string, unknown> = { keyId: s.key.id, alias: s.key.alias, version: s.version, spec: s.key.spec, ...s.params, signature: s.signature.toString('base64') };
  if (o.out) {
    writeOutputAtomic(String(o.out), s.signature);
    data.out = o.out;
    return { data, text: '' };
  }
  return { data, text: s.signature.toString('base64') };
};
