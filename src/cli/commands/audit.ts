import type { Handler } from '../result.js';
import { exportRecord, queryRecords, recordView, type AuditFilter } from '../../audit/query.js';
import { parseWindow } from '../../audit/when.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';
import { parseVersion } from '../io.js';
import { table } from '../table.js';

export function whole(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^\d{1,12}$/.test(s) || Number(s) < min) throw usage(`${name} must be a whole number >= ${min}, not ${quote(s)}`);
  return Number(s);
}

function nonEmpty(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (s.trim() === '') throw usage(`${name} needs a value`);
  return s;
}

export function auditFilter(o: Record<string, unknown>, now: Date): AuditFilter {
  const w = parseWindow(o, now);
  return {
    key: nonEmpty('--key', o.key),
    version: parseVersion(o.version),
    actor: nonEmpty('--actor', o.actor),
    action: nonEmpty('--action', o.action),
    outcome: o.outcome as AuditFilter['outcome'],
    since: w.since,
    until: w.until,
    sinceSeq: whole('--since-seq', o.sinceSeq, 0),
  };
}

export const run: Handler = async (rt, _args, o) => {
  if (o.jsonl && rt.flags.json) throw usage('--json and --jsonl are two output formats: pick one');
  const rows = queryRecords(rt.ledger(), { ...auditFilter(o, rt.now()), limit: whole('--limit', o.limit, 1) });
  if (o.jsonl) return { data: {}, text: rows.map((r) => JSON.stringify(exportRecord(r))).join('\n') };
  const records = rows.map(recordView);
  const text = records.length === 0
    ? 'no audit records match'
    : table(['SEQ', 'TIME (UTC)', 'ACTOR', 'HOST', 'COMMAND', 'KEY', 'V', 'OUTCOME', 'MS'], records.map((r) => [r.seq, r.ts.slice(0, 19).replace('T', ' '), r.actor, r.host, r.command, r.alias ?? '-', r.version ?? '-', r.errorCode ? `${r.outcome}: ${r.errorCode}` : r.outcome, r.durationMs]));
  return { data: { records }, text };
};
