import type { Handler } from '../result.js';
import { list } from '../../keys/query.js';
import { daysLeft } from '../../keys/lifecycle.js';
import { table } from '../table.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';
import { colours, paintState } from '../render.js';

/** DELETION: the deadline and days left while pending; for a tombstone, that it is destroyed and when its window ended. */
function deletionColumn(k: { state: string; destroyAfter: string | null; daysLeft: number | null }): string {
  if (k.state === 'destroyed') return k.destroyAfter ? `destroyed (window ended ${k.destroyAfter.slice(0, 10)})` : 'destroyed';
  if (!k.destroyAfter) return '-';
  return k.daysLeft !== null && k.daysLeft > 0 ? `${k.destroyAfter.slice(0, 10)} (${k.daysLeft}d left)` : `${k.destroyAfter.slice(0, 10)} (due for purge)`;
}

export const run: Handler = async (rt, _args, o) => {
  const now = rt.now();
  const c = colours(rt.flags);
  const state = o.state as string | undefined;
  const limit = o.limit === undefined ? undefined : String(o.limit);
  if (limit !== undefined && !/^[1-9]\d{0,6}$/.test(limit)) throw usage(`--limit must be a whole number from 1 to 9999999, not ${quote(limit)}`);
  const keys = list(rt.ledgerCtx(), { includeDestroyed: o.all === true, state, after: o.after as string | undefined, limit: limit === undefined ? undefined : Number(limit) })
    // A destroyed key has no days left to count: its window is over and it is gone.
    .map((k) => ({ ...k, daysLeft: k.state === 'destroyed' ? null : daysLeft(k.destroyAfter, now) }));
  const text = keys.length === 0
    ? state ? `no keys are ${state}` : 'no keys yet: create one with kmsctl create ALIAS --spec aes-256'
    : table(['ALIAS', 'SPEC', 'STATE', 'PRIMARY', 'DELETION', 'ID'], keys.map((k) => [k.alias, k.spec, paintState(c, k.state), `v${k.primaryVersion}`, deletionColumn(k), k.id]));
  return { data: { keys }, text };
};
