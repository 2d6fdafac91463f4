import type { Handler } from '../result.js';
import { dueForPurge, purgeOne } from '../../keys/lifecycle.js';
import { confirmDestructive } from '../confirm.js';
import { table } from '../table.js';
import { requestIfRequired } from '../two-person.js';

export const run: Handler = async (rt, _args, o) => {
  const due = dueForPurge(rt.ledgerCtx());
  const items = due.map((d) => ({ keyId: d.keyId, alias: d.alias, version: d.version, destroyAfter: d.destroyAfter, wholeKey: d.wholeKey }));
  if (due.length === 0) return { data: { dryRun: o.dryRun === true, destroyed: [], due: [] }, text: 'nothing was due for purge' };
  const listing = table(['KEY', 'VERSION', 'WINDOW ENDED'], items.map((i) => [i.alias, `v${i.version}`, i.destroyAfter]));
  if (o.dryRun) return { data: { dryRun: true, due: items, destroyed: [] }, text: `would destroy ${due.length} version(s):\n${listing}` };
  // With rules active, every due key must allow purge before anything is destroyed; the first denial is audited and stops it.
  const gate = await rt.policyGate();
  const refused = gate && due.find((d) => !gate.allows('purge', d.alias));
  if (refused) {
    await rt.audited('purge', (scope) => {
      Object.assign(scope, { keyId: refused.keyId, alias: refused.alias, version: refused.version });
      scope.authorize?.({ id: refused.keyId, alias: refused.alias });
    });
  }
  await confirmDestructive(rt, o.yes, `About to destroy ${due.length} key version(s) on the token, for good`, 'purge', listing);
  const pending = await requestIfRequired(rt, 'purge', { items: items.map((i) => ({ keyId: i.keyId, alias: i.alias, version: i.version })) }, {});
  if (pending) return pending;
  const ctx = await rt.keyCtx();
  const destroyed: typeof items = [];
  for (const d of due) {
    const done = await rt.audited('purge', (scope) => {
      Object.assign(scope, { keyId: d.keyId, alias: d.alias, version: d.version });
      scope.details.wholeKey = d.wholeKey;
      scope.authorize?.({ id: d.keyId, alias: d.alias });
      return purgeOne(ctx, d);
    });
    if (done) destroyed.push(items[due.indexOf(d)]);
  }
  return { data: { dryRun: false, due: items, destroyed }, text: `destroyed ${destroyed.length} version(s):\n${table(['KEY', 'VERSION'], destroyed.map((i) => [i.alias, `v${i.version}`]))}` };
};
