import { isatty } from 'node:tty';
import type { Handler } from '../result.js';
import { unwrap } from '../../keys/envelope-ops.js';
import { parseContextArgs } from '../../envelope/index.js';
import { LIMITS, readInput, writeOutputAtomic } from '../io.js';
import { unwrapBatch } from '../batch-ops.js';
import { usage } from '../../errors.js';

export const run: Handler = async (rt, _args, o) => {
  if (o.batch) return unwrapBatch(rt);
  // Raw key bytes on a terminal are unreadable and end up in its scrollback: only a pipe or file gets
  // them without asking (--out - says "here, anyway"); --json carries them as base64 and --quiet prints none.
  if (!o.out && !rt.flags.json && !rt.flags.quiet && isatty(1)) {
    throw usage('the plaintext is binary: pass --out FILE (or --out - to write it here anyway)', { reason: 'binary-to-terminal' });
  }
  const context = parseContextArgs((o.context as string[] | undefined) ?? []);
  const input = readInput(o.in as string | undefined, 'unwrap', LIMITS.blob);
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
