import type { Handler } from '../result.js';
import { pendingRequests } from '../../policy/approvals.js';
import { table } from '../table.js';
import { requestSubject, requestView } from '../two-person.js';

export const run: Handler = async (rt) => {
  const list = pendingRequests(rt.ledger(), rt.now());
  const text = list.length === 0
    ? 'no pending approval requests'
    : table(['ID', 'REQUEST', 'ASKED BY', 'APPROVALS', 'EXPIRES (UTC)'], list.map((r) => [r.id, requestSubject(r), r.requested_by, `${r.approvals.length}/${r.required}`, r.expires_at.slice(0, 19).replace('T', ' ')]));
  return { data: { requests: list.map(requestView) }, text };
};
