import type { Handler } from '../result.js';
import { applyPlan, type Done } from '../../policy/apply.js';
import { changeCount } from '../../policy/plan.js';
import { colours } from '../render.js';
import { confirmDestructive } from '../confirm.js';
import { planData, planText } from '../policy-view.js';
import { makePlan } from './policy-plan.js';

function doneLine(d: Done): string {
  return `${d.kind} ${d.alias ?? ''}${d.detail ? ` (${d.detail})` : ''}`.replace(/ +/g, ' ').trim();
}

export const run: Handler = async (rt, files, o) => {
  const { desired, plan: p } = makePlan(rt, files);
  const shown = planText(p, rt.now(), colours(rt.flags));
  if (changeCount(p) === 0) return { data: { ...planData(p), applied: [] }, text: shown };

  // Deletions are confirmed by typing the alias, as `kmsctl delete` asks; other changes by typing "apply".
  const deletes = p.actions.filter((a) => a.kind === 'delete');
  const expected = deletes.length === 0 ? 'apply' : deletes.length === 1 ? deletes[0].alias : `delete ${deletes.length} keys`;
  const what = deletes.length === 0 ? `About to apply ${changeCount(p)} change(s)` : `About to apply ${changeCount(p)} change(s), scheduling ${deletes.map((d) => d.alias).join(', ')} for deletion`;
  await confirmDestructive(rt, o.yes, what, expected, shown);

  let done: Done[];
  try {
    done = await applyPlan(p, desired, {
      ledger: rt.ledgerCtx(),
      keyCtx: () => rt.keyCtx(),
      audited: (fn) => rt.audited('policy-apply', fn),
      actor: rt.who.actor,
    });
  } catch (e) {
    if (!rt.flags.json) process.stderr.write('apply stopped at an error: the changes before it are in place and audited; fix the cause and run apply again\n');
    throw e;
  }
  return {
    data: { ...planData(p), applied: done },
    text: `${shown}\n\nApplied:\n${done.map((d) => `  ${doneLine(d)}`).join('\n')}`,
  };
};
