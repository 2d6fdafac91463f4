import type { Handler } from '../result.js';
import { list } from '../../keys/query.js';
import { daysLeft } from '../../keys/lifecycle.js';
import { table } from '../table.js';
import { usage } from '../../errors.js';
import { colours, paintState } from '../render.js';

export const run: Handler = async (rt, _args, o) => {
  const now = rt.now();
  const c = colours(rt.flags);
  const state = o.state as string | undefined;
  const limit = o.limit === undefined ? undefined : String(o.limit);
  if (limit !== undefined && !/^[1-9]\d{0,6}$/.test(limit)) throw usage(`--limit must be a whole number from 1 to 9999999, not "${limit}"`);
  const keys = list(rt.ledgerCtx(), { includeDestroyed: o.all === true, state, after: o.after as string | undefined, limit: limit === undefined ? undefined : Number(limit) })
    .map((k) => ({ ...k, daysLeft: daysLeft(k.destroyAfter, now) }));
  const text = keys.length === 0
    ? state ? `no keys are ${state}` : 'no keys yet: create one with kmsctl create ALIAS --spec aes-256'
    : table(['ALIAS', 'SPEC', 'STATE', 'PRIMARY', 'DELETION', 'ID'], keys.map((k) => [k.alias, k.spec, paintState(c, k.state), `v${k.primaryVersion}`, k.destroyAfter ? `${k.destroyAfter.slice(0, 10)} (${k.daysLeft}d left)` : '-', k.id]));
  return { data: { keys }, text };
};
