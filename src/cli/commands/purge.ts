import type { Handler } from '../result.js';
import { dueForPurge, purgeOne } from '../../keys/lifecycle.js';
import { confirmDestructive } from '../confirm.js';
import { table } from '../table.js';

export const run: Handler = async (rt, _args, o) => {
  const due = dueForPurge(rt.ledgerCtx());
  const items = due.map((d) => ({ keyId: d.keyId, alias: d.alias, version: d.version, destroyAfter: d.destroyAfter, wholeKey: d.wholeKey }));
  if (due.length === 0) return { data: { dryRun: o.dryRun === true, destroyed: [], due: [] }, text: 'nothing was due for purge' };
  const listing = table(['KEY', 'VERSION', 'WINDOW ENDED'], items.map((i) => [i.alias, `v${i.version}`, i.destroyAfter]));
  if (o.dryRun) return { data: { dryRun: true, due: items, destroyed: [] }, text: `would destroy ${due.length} version(s):\n${listing}` };
  await confirmDestructive(rt, o.yes, `About to destroy ${due.length} key version(s) on the token, for good`, 'purge', listing);
  const ctx = await rt.keyCtx();
  const destroyed: typeof items = [];
  for (const d of due) {
    const done = await rt.audited('purge', (scope) => {
      Object.assign(scope, { keyId: d.keyId, alias: d.alias, version: d.version });
      scope.details.wholeKey = d.wholeKey;
      return purgeOne(ctx, d);
    });
    if (done) destroyed.push(items[due.indexOf(d)]);
  }
  return { data: { dryRun: false, due: items, destroyed }, text: `destroyed ${destroyed.length} version(s):\n${table(['KEY', 'VERSION'], destroyed.map((i) => [i.alias, `v${i.version}`]))}` };
};
