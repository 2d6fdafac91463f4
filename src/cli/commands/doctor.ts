import type { Handler } from '../result.js';
import { diagnose, repair, type Finding, type RepairRecord } from '../../keys/doctor.js';
import { checkFailed } from '../../errors.js';
import { promptText } from '../prompt.js';
import { appendAudit } from '../../audit/append.js';

function line(f: Finding): string {
  const tail = f.repaired ? ` -> repaired: ${f.repaired}` : f.left ? ` -> left: ${f.left}` : '';
  return `${f.kind}: ${f.message}${tail}`;
}

export const run: Handler = async (rt, _args, o) => {
  const ctx = await rt.keyCtx();
  let findings: Finding[];
  if (o.repair) {
    let removeOrphans = o.yes === true;
    const orphans = rt.interactive && !removeOrphans ? diagnose(ctx).findings.filter((f) => f.kind === 'orphan') : [];
    if (orphans.length > 0) {
      process.stderr.write(`${orphans.map(line).join('\n')}\n`);
      removeOrphans = (await promptText('Destroy the orphan token objects listed above? Type yes:')).trim() === 'yes';
    }
    findings = await rt.audited('doctor', (scope) => {
      // Each repair has its own record against the key and version it touched, so that the key's own
      // history (audit --key) shows a version doctor completed, rolled back or gave its CKA_ID back.
      const record = (f: Finding, r: RepairRecord) =>
        appendAudit(ctx.db, rt.who, [{ command: 'doctor-repair', keyId: f.keyId, alias: f.alias, version: f.version, outcome: r.ok ? 'success' : 'failure', errorCode: r.errorCode, durationMs: r.durationMs, details: r.details }], rt.now(), rt.auditSealer());
      const r = repair(ctx, { removeOrphans, record });
      scope.details = { repair: true, findings: r.length, repaired: r.filter((f) => f.repaired).length };
      return r;
    });
  } else {
    findings = await rt.audited('doctor', (scope) => {
      const r = diagnose(ctx).findings;
      scope.details = { repair: false, findings: r.length };
      return r;
    });
  }
  const open = findings.filter((f) => !f.repaired);
  if (open.length > 0) {
    const text = findings.map(line).join('\n');
    if (!rt.flags.json) process.stderr.write(`${text}\n`);
    throw checkFailed(`doctor found ${open.length} problem${open.length === 1 ? '' : 's'}${o.repair ? ' it could not repair' : ''}`, {
      reason: 'doctor-findings',
      hint: o.repair ? undefined : 'kmsctl doctor --repair',
      details: { findings },
    });
  }
  const text = findings.length ? findings.map(line).join('\n') : 'ledger and token agree: nothing to report';
  return { data: { findings, clean: findings.length === 0 }, text };
};
