import type { Handler } from '../result.js';
import { restore } from '../../keys/lifecycle.js';
import { parseVersion } from '../io.js';
import { requestIfRequired } from '../two-person.js';

export const run: Handler = async (rt, [ref], o) => {
  const version = parseVersion(o.version);
  const pending = await requestIfRequired(rt, 'restore', { ref }, { version, enable: o.enable === true });
  if (pending) return pending;
  const ctx = rt.ledgerCtx();
  const r = await rt.audited('restore', (scope) => restore(ctx, scope, ref, { version, enable: o.enable === true }));
  const subject = r.version ? `${r.key.alias} v${r.version.version}` : r.key.alias;
  const next = r.to === 'disabled' ? ` (enable it with kmsctl enable ${r.key.alias}${r.version ? ` --version ${r.version.version}` : ''})` : '';
  return { data: { keyId: r.key.id, alias: r.key.alias, version: r.version?.version, from: r.from, state: r.to }, text: `restored ${subject}: ${r.to}${next}` };
};
