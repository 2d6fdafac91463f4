import type { Handler } from '../result.js';
import { queryAudit } from '../../audit/query.js';
import { usage } from '../../errors.js';
import { table } from '../table.js';
import { colours, paintState } from '../render.js';

function whole(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^\d{1,12}$/.test(s) || Number(s) < min) throw usage(`${name} must be a whole number >= ${min}, not "${s}"`);
  return Number(s);
}

export const run: Handler = async (rt, _args, o) => {
  const c = colours(rt.flags);
  const records = queryAudit(rt.ledger(), { key: o.key as string | undefined, sinceSeq: whole('--since-seq', o.sinceSeq, 0), limit: whole('--limit', o.limit, 1) });
  const text = records.length === 0
    ? 'no audit records match'
    : table(['SEQ', 'TIME (UTC)', 'ACTOR', 'COMMAND', 'KEY', 'V', 'OUTCOME', 'MS'], records.map((r) => [r.seq, r.ts.slice(0, 19).replace('T', ' '), r.actor, r.command, r.alias ?? '-', r.version ?? '-', paintState(c, r.outcome, r.errorCode ? `${r.outcome}: ${r.errorCode}` : r.outcome), r.durationMs]));
  return { data: { records }, text };
};
