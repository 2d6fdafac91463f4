import type { Handler } from '../result.js';
import { datakey } from '../../keys/envelope-ops.js';
import { parseContextArgs, toText } from '../../envelope/index.js';
import { writeOutputAtomic } from '../io.js';
import { datakeyBatch } from '../batch-ops.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';

export const run: Handler = async (rt, [ref], o) => {
  const context = parseContextArgs((o.context as string[] | undefined) ?? []);
  const bytes = o.bytes === undefined ? 32 : Number(o.bytes);
  if (o.count !== undefined) {
    const count = String(o.count);
    if (!/^[1-9]\d{0,6}$/.test(count)) throw usage(`--count must be a whole number from 1 to 9999999, not ${quote(count)}`);
    if (o.out || o.plaintextOut) throw usage('--count writes JSON Lines on stdout: drop --out and --plaintext-out (redirect stdout to a 0600 file instead)');
    return datakeyBatch(rt, ref, bytes, Number(count), context);
  }
  const ctx = await rt.keyCtx();
  const d = await rt.audited('datakey', (scope) => datakey(ctx, scope, ref, bytes, context));
  const blob = toText(d.blob);
  const data: Record<string, unknown> = { keyId: d.keyId, alias: d.alias, version: d.version, bytes, blob };
  const lines: string[] = [];
  if (o.plaintextOut) {
    writeOutputAtomic(String(o.plaintextOut), d.plaintext, 0o600);
    data.plaintextOut = o.plaintextOut;
  } else {
    data.plaintext = d.plaintext.toString('base64');
    lines.push(`plaintext ${data.plaintext}`);
  }
  d.plaintext.fill(0);
  if (o.out) {
    writeOutputAtomic(String(o.out), `${blob}\n`);
    data.out = o.out;
  } else {
    lines.push(o.plaintextOut ? blob : `wrapped   ${blob}`);
  }
  return { data, text: lines.join('\n') };
};
