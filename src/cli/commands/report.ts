import type { Handler } from '../result.js';
import { buildReport, type Report } from '../../audit/report.js';
import { toPrometheus } from '../../audit/prometheus.js';
import { parseInstant } from '../../audit/when.js';
import { formatDuration } from '../../duration.js';
import { usage } from '../../errors.js';
import { quote } from '../../quote.js';
import { writeOutputAtomic } from '../io.js';
import { table } from '../table.js';

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;
const ms = (v: number | null) => (v === null ? '-' : `${v}`);

function human(r: Report): string {
  const parts: string[] = [];
  parts.push(`report over ${formatDuration(r.windowSeconds)} since ${r.since} (${r.records} audit records)`);
  parts.push(r.operations.length === 0
    ? 'operations: none in the window'
    : `operations\n${table(['OPERATION', 'COUNT', 'ERRORS', 'ERROR RATE', 'P50 MS', 'P95 MS'], r.operations.map((o) => [o.operation, o.count, o.errors, pct(o.errorRate), ms(o.p50Ms), ms(o.p95Ms)]))}`);
  const codes = Object.entries(r.unwrap.byErrorCode).map(([c, n]) => `${c} ${n}`).join(', ');
  parts.push(`unwrap error rate: ${pct(r.unwrap.errorRate)} (${r.unwrap.errors} of ${r.unwrap.count})${codes ? `: ${codes}` : ''}`);
  parts.push(r.rotation.keys.length === 0
    ? 'rotation: no enabled key has a rotation period'
    : `rotation: ${r.rotation.onTime} on time, ${r.rotation.due} due, ${r.rotation.overdue} overdue\n${table(['KEY', 'PERIOD', 'LAST ROTATED', 'DUE AT', 'STATUS'], r.rotation.keys.map((k) => [k.alias, formatDuration(k.rotationPeriodSeconds), k.lastRotatedAt.slice(0, 10), k.dueAt.slice(0, 10), k.status]))}`);
  const pend = [...r.pendingDeletion.keys.map((k) => [k.alias, 'all', k.destroyAfter.slice(0, 19), k.daysLeft]), ...r.pendingDeletion.versions.map((v) => [v.alias, `v${v.version}`, v.destroyAfter.slice(0, 19), v.daysLeft])];
  parts.push(pend.length === 0 ? 'pending deletion: none' : `pending deletion\n${table(['KEY', 'VERSION', 'DESTROY AFTER (UTC)', 'DAYS LEFT'], pend)}`);
  parts.push(r.anomalies.length === 0
    ? 'anomalies: none'
    : `anomalies\n${table(['KEY', 'KIND', 'WHEN', 'WHAT'], r.anomalies.map((a) =>
      a.kind === 'usage-spike' ? [a.alias, a.kind, a.day, `${a.count} records, 7-day median ${a.median}`] : [a.alias, a.kind, a.at.slice(0, 19), a.kind === 'new-actor' ? `actor ${a.actor} (seq ${a.seq})` : `host ${a.host} (seq ${a.seq})`]))}`);
  if (r.audit.unsealed > 0) parts.push(`audit: ${r.audit.unsealed} record(s) not sealed yet`);
  return parts.join('\n\n');
}

export const run: Handler = async (rt, _args, o) => {
  const format = (o.format as string | undefined) ?? (rt.flags.json ? 'json' : 'table');
  // With --out, --json describes what was written; without it, it would be a second output format.
  if (rt.flags.json && format !== 'json' && o.out === undefined) throw usage(`--json and --format ${format} are two output formats: pick one`);
  const now = rt.now();
  const since = parseInstant('--since', o.since === undefined ? '30d' : String(o.since), now);
  if (since.getTime() > now.getTime()) throw usage(`--since ${quote(o.since)} lies in the future`, { reason: 'bad-time' });
  const report = buildReport(rt.ledger(), since, now);
  const text = format === 'prometheus' ? toPrometheus(report) : format === 'json' ? JSON.stringify({ ok: true, ...report }, null, 2) : human(report);
  if (o.out !== undefined) {
    writeOutputAtomic(String(o.out), text.endsWith('\n') ? text : `${text}\n`);
    return { data: { out: String(o.out), format }, text: '' };
  }
  return { data: { ...report }, text };
};
