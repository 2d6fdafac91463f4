import type { Handler } from '../result.js';
import { loadPolicy } from '../../policy/load.js';
import { appliedPolicy } from '../../policy/active.js';
import { changeCount, plan, type Plan } from '../../policy/plan.js';
import { listKeys } from '../../ledger/records.js';
import { badData } from '../../errors.js';
import type { Runtime } from '../runtime.js';
import { colours } from '../render.js';
import { planData, planText } from '../policy-view.js';
import type { PolicySet } from '../../policy/model.js';

/** Loads the files and plans against the ledger; conflicts are errors with their place (exit 65). */
export function makePlan(rt: Runtime, files: string[]): { desired: PolicySet; plan: Plan } {
  const desired = loadPolicy(files);
  const db = rt.ledger();
  const p = plan(desired, listKeys(db, { includeDestroyed: true }), appliedPolicy(db), rt.now());
  if (p.conflicts.length > 0) {
    const list = p.conflicts.map((c) => `${c.file}:${c.line}:${c.column}: ${c.message}`).join('\n');
    throw badData(`the policy cannot be applied to this ledger:\n${list}`, { reason: 'policy-conflict', details: { errors: p.conflicts } });
  }
  return { desired, plan: p };
}

export const run: Handler = async (rt, files, o) => {
  const { plan: p } = makePlan(rt, files);
  const n = changeCount(p);
  return {
    data: planData(p),
    text: planText(p, rt.now(), colours(rt.flags)),
    // --detailed-exitcode: 0 nothing to do, 1 changes (an error is still its own code, e.g. 65).
    exitCode: o.detailedExitcode && n > 0 ? 1 : 0,
  };
};
