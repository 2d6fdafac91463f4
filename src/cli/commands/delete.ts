import type { Handler } from '../result.js';
import { scheduleDeletion, daysLeft } from '../../keys/lifecycle.js';
import { parseDuration, DELETION_WINDOW } from '../../duration.js';
import { parseVersion } from '../io.js';
import { confirmDestructive } from '../confirm.js';
import { requestIfRequired } from '../two-person.js';

export const run: Handler = async (rt, [ref], o) => {
  const version = parseVersion(o.version);
  const windowS = o.window === undefined ? undefined : parseDuration('--window', String(o.window), DELETION_WINDOW.min, DELETION_WINDOW.max);
  const what = version === undefined ? `schedule key ${ref} for deletion` : `schedule version ${version} of ${ref} for destruction`;
  await confirmDestructive(rt, o.yes, `About to ${what}`, ref);
  const pending = await requestIfRequired(rt, 'delete', { ref }, { windowS, version, force: o.force === true });
  if (pending) return pending;
  const ctx = rt.ledgerCtx();
  const r = await rt.audited('delete', (scope) => scheduleDeletion(ctx, scope, ref, { windowS, version, force: o.force === true }));
  const days = daysLeft(r.destroyAfter, rt.now());
  const subject = r.version ? `${r.key.alias} v${r.version.version}` : r.key.alias;
  const undo = r.version ? `kmsctl restore ${r.key.alias} --version ${r.version.version}` : `kmsctl restore ${r.key.alias}`;
  return {
    data: { keyId: r.key.id, alias: r.key.alias, version: r.version?.version, from: r.from, state: r.to, destroyAfter: r.destroyAfter, daysLeft: days },
    text: `${subject} is ${r.to}: purge may destroy it after ${r.destroyAfter} (${days} days); undo with ${undo}`,
  };
};
