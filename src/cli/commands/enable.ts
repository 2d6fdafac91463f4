import type { Handler } from '../result.js';
import { setEnabled } from '../../keys/lifecycle.js';
import { parseVersion } from '../io.js';

export const run: Handler = async (rt, [ref], o) => {
  const version = parseVersion(o.version);
  const ctx = rt.ledgerCtx();
  const r = await rt.audited('enable', (scope) => setEnabled(ctx, scope, ref, true, version));
  const what = r.version ? `${r.key.alias} v${r.version.version}` : r.key.alias;
  return { data: { keyId: r.key.id, alias: r.key.alias, version: r.version?.version, from: r.from, state: r.to }, text: r.from === r.to ? `${what} was already ${r.to}` : `${what}: ${r.from} -> ${r.to}` };
};
