import type { Handler } from '../result.js';
import { list } from '../../keys/query.js';
import { daysLeft } from '../../keys/lifecycle.js';
import { table } from '../table.js';
import { colours, paintState } from '../render.js';

export const run: Handler = async (rt, _args, o) => {
  const now = rt.now();
  const c = colours(rt.flags);
  const state = o.state as string | undefined;
  const keys = list(rt.ledgerCtx(), o.all === true || state === 'destroyed')
    .filter((k) => state === undefined || k.state === state)
    .map((k) => ({ ...k, daysLeft: daysLeft(k.destroyAfter, now) }));
  const text = keys.length === 0
    ? state ? `no keys are ${state}` : 'no keys yet: create one with kmsctl create ALIAS --spec aes-256'
    : table(['ALIAS', 'SPEC', 'STATE', 'PRIMARY', 'DELETION', 'ID'], keys.map((k) => [k.alias, k.spec, paintState(c, k.state), `v${k.primaryVersion}`, k.destroyAfter ? `${k.destroyAfter.slice(0, 10)} (${k.daysLeft}d left)` : '-', k.id]));
  return { data: { keys }, text };
};
