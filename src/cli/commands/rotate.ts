import type { Handler } from '../result.js';
import { rotateKey } from '../../keys/rotate.js';
import { dueForRotation } from '../../keys/due.js';
import { formatDuration } from '../../duration.js';
import { KmsError, usage } from '../../errors.js';
import type { Runtime } from '../runtime.js';
import type { CommandResult } from '../result.js';

/**
 * What one rotation did. `previous` is the primary when it took its number; a concurrent rotation that
 * took a higher number and finished first stays primary, and the line says so.
 */
function outcome(version: number, previous: number, primary: number): string {
  // With no rotation in between, the previous primary is the version before; otherwise say when it was.
  if (primary === version) return `version ${version} is primary (was ${previous}${previous === version - 1 ? '' : ' when this rotation began'})`;
  return `version ${version} is in place; version ${primary}, from a rotation that finished first, stays primary (the primary was ${previous} when this one began)`;
}

/** rotate --due: every enabled key whose rotation period has elapsed; one failure does not stop the others. */
async function rotateDue(rt: Runtime): Promise<CommandResult> {
  const due = dueForRotation(rt.ledgerCtx());
  if (due.length === 0) return { data: { rotated: [], failed: [] }, text: 'no key was due for rotation' };
  const ctx = await rt.keyCtx();
  const rotated: Array<{ keyId: string; alias: string; version: number; previous: number; primaryVersion: number; dueAt: string }> = [];
  const failed: Array<{ keyId: string; alias: string; error: { code: string; reason?: string; message: string; exitCode: number } }> = [];
  let first: unknown;
  for (const d of due) {
    try {
      const r = await rt.audited('rotate', (scope) => {
        Object.assign(scope.details, { due: true, dueAt: d.dueAt, period: formatDuration(d.periodS) });
        return rotateKey(ctx, scope, d.keyId);
      });
      rotated.push({ keyId: d.keyId, alias: d.alias, version: r.version, previous: r.previous, primaryVersion: r.key.primary_version, dueAt: d.dueAt });
    } catch (e) {
      if (!(e instanceof KmsError)) throw e;
      first ??= e;
      failed.push({ keyId: d.keyId, alias: d.alias, error: { code: e.code, reason: e.reason, message: e.message, exitCode: e.exitCode } });
    }
  }
  const lines = rotated.map((r) => `rotated ${r.alias}: ${outcome(r.version, r.previous, r.primaryVersion)}; due since ${r.dueAt}`);
  if (failed.length > 0) {
    const e = first as KmsError;
    if (!rt.flags.json && lines.length) process.stderr.write(`${lines.join('\n')}\n`);
    throw new KmsError(e.code, `rotated ${rotated.length} of ${due.length} due key(s); ${failed.map((f) => `${f.alias}: ${f.error.message}`).join('; ')}`, {
      reason: e.reason,
      hint: e.hint,
      details: { rotated, failed },
    });
  }
  return { data: { rotated, failed }, text: lines.join('\n') };
}

export const run: Handler = async (rt, [ref], o) => {
  if (o.due) {
    if (ref !== undefined) throw usage('rotate --due rotates every key that is due: drop the KEY, or drop --due to rotate KEY now');
    return rotateDue(rt);
  }
  if (ref === undefined) throw usage('rotate needs a KEY, or --due for every key whose rotation period has elapsed');
  const ctx = await rt.keyCtx();
  const r = await rt.audited('rotate', (scope) => rotateKey(ctx, scope, ref));
  return {
    data: { keyId: r.key.id, alias: r.key.alias, version: r.version, previousPrimary: r.previous, primaryVersion: r.key.primary_version, becamePrimary: r.becamePrimary },
    text: `rotated ${r.key.alias}: ${outcome(r.version, r.previous, r.key.primary_version)}`,
  };
};
