import type { Handler } from '../result.js';
import { KmsError } from '../../errors.js';
import { approvalRefusal, closeRequest, getRequest, recordApproval } from '../../policy/approvals.js';
import { confirmDestructive } from '../confirm.js';
import { executeRequest, requestSubject, requestView } from '../two-person.js';

export const run: Handler = async (rt, [id], o) => {
  const db = rt.ledger();
  const gate = await rt.policyGate();
  const actor = rt.who.actor;
  const { request, ready } = await rt.audited('approve', async (scope) => {
    scope.details.request = id;
    const r = getRequest(db, id);
    if (r) {
      Object.assign(scope, { keyId: r.key_id ?? undefined, alias: r.alias ?? undefined });
      Object.assign(scope.details, { op: r.op, requestedBy: r.requested_by });
    }
    const refusal = approvalRefusal(r, id, actor, rt.now());
    if (refusal) throw refusal;
    // An approver must be allowed the operation themselves: approval is not a way around a deny.
    if (gate) {
      const aliases = r!.alias ? [r!.alias] : ((r!.args.items as Array<{ alias: string }> | undefined) ?? []).map((i) => i.alias);
      for (const a of new Set(aliases)) gate.check(r!.op, a, scope);
    }
    await confirmDestructive(rt, o.yes, `About to approve request ${id}: ${requestSubject(r!)}, asked by ${r!.requested_by} at ${r!.requested_at}`, id);
    const res = recordApproval(db, id, actor, rt.now());
    Object.assign(scope.details, { approvals: res.request.approvals.length, required: res.request.required, carriesOut: res.ready });
    return res;
  });
  const approvedBy = request.approvals.map((a) => a.actor);
  if (!ready) {
    const left = request.required - request.approvals.length;
    return {
      data: { request: requestView(request), executed: false },
      text: `approved ${id} (${requestSubject(request)}): ${request.approvals.length} of ${request.required} approvals; ${left} more from other actors before it is carried out`,
    };
  }
  try {
    const out = await executeRequest(rt, request, approvedBy);
    closeRequest(db, id, { ok: true }, actor, rt.now());
    return {
      data: { request: requestView({ ...request, state: 'executed' }), executed: true, result: out.data },
      text: `approved ${id}: ${requestSubject(request)} asked by ${request.requested_by}, approved by ${approvedBy.join(', ')}\n${out.text}`,
    };
  } catch (e) {
    closeRequest(db, id, { ok: false, errorCode: e instanceof KmsError ? (e.reason ?? e.code) : 'internal' }, actor, rt.now());
    throw e;
  }
};
