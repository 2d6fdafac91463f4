import type { Report } from './report.js';

// The report in the Prometheus text exposition format, for node_exporter's textfile collector: every
// family has HELP and TYPE lines and its samples together, names carry the kmsctl_ prefix and base
// units (seconds), and no sample carries a timestamp (the collector refuses them). The figures cover a
// window, not a process lifetime, so they are gauges, not counters.

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'summary';
  samples: Array<{ suffix?: string; labels: Labels; value: number }>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function line(name: string, labels: Labels, value: number): string {
  const ls = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
  return `${name}${ls ? `{${ls}}` : ''} ${num(value)}`;
}

const seconds = (ms: number) => ms / 1000;

export function toPrometheus(r: Report): string {
  const fams: Family[] = [];
  const fam = (name: string, type: Family['type'], help: string): Family => {
    const f: Family = { name: `kmsctl_${name}`, help, type, samples: [] };
    fams.push(f);
    return f;
  };

  fam('report_window_seconds', 'gauge', 'Length of the window that the operation figures cover.').samples.push({ labels: {}, value: r.windowSeconds });
  fam('report_generated_timestamp_seconds', 'gauge', 'When this report was made, in seconds since the Unix epoch.').samples.push({ labels: {}, value: Date.parse(r.generatedAt) / 1000 });

  const ops = fam('operations', 'gauge', 'Audited operations in the window, by key alias (empty for operations on no key), operation and outcome.');
  for (const k of r.byKey) {
    if (k.success) ops.samples.push({ labels: { key: k.alias, operation: k.operation, outcome: 'success' }, value: k.success });
    if (k.failure) ops.samples.push({ labels: { key: k.alias, operation: k.operation, outcome: 'failure' }, value: k.failure });
  }
  const err = fam('operation_error_ratio', 'gauge', 'Share of the operations in the window that failed, by operation.');
  for (const o of r.operations) err.samples.push({ labels: { operation: o.operation }, value: o.errorRate });
  const lat = fam('operation_duration_seconds', 'summary', 'Duration of audited operations in the window (nearest-rank quantiles), by operation.');
  for (const o of r.operations) {
    if (o.p50Ms !== null) lat.samples.push({ labels: { operation: o.operation, quantile: '0.5' }, value: seconds(o.p50Ms) });
    if (o.p95Ms !== null) lat.samples.push({ labels: { operation: o.operation, quantile: '0.95' }, value: seconds(o.p95Ms) });
    lat.samples.push({ suffix: '_sum', labels: { operation: o.operation }, value: seconds(o.sumMs) });
    lat.samples.push({ suffix: '_count', labels: { operation: o.operation }, value: o.count });
  }
  fam('unwrap_error_ratio', 'gauge', 'Share of the unwraps in the window that failed.').samples.push({ labels: {}, value: r.unwrap.errorRate });

  const rot = fam('rotation_keys', 'gauge', 'Enabled keys with a rotation period, by rotation status (on-time, due, overdue).');
  rot.samples.push({ labels: { status: 'on-time' }, value: r.rotation.onTime }, { labels: { status: 'due' }, value: r.rotation.due }, { labels: { status: 'overdue' }, value: r.rotation.overdue });
  const st = fam('key_rotation_status', 'gauge', 'Rotation status of each key with a rotation period: 1 for its current status, 0 for the others.');
  for (const k of r.rotation.keys) {
    for (const s of ['on-time', 'due', 'overdue'] as const) st.samples.push({ labels: { key: k.alias, status: s }, value: k.status === s ? 1 : 0 });
  }
  const due = fam('key_rotation_due_timestamp_seconds', 'gauge', 'When each key\'s rotation period ends, in seconds since the Unix epoch.');
  for (const k of r.rotation.keys) due.samples.push({ labels: { key: k.alias }, value: Date.parse(k.dueAt) / 1000 });

  const pk = fam('key_deletion_remaining_seconds', 'gauge', 'Keys pending deletion: time left before purge may destroy them.');
  for (const k of r.pendingDeletion.keys) pk.samples.push({ labels: { key: k.alias }, value: k.secondsLeft });
  const pv = fam('key_version_destruction_remaining_seconds', 'gauge', 'Key versions pending destruction: time left before purge may destroy them.');
  for (const v of r.pendingDeletion.versions) pv.samples.push({ labels: { key: v.alias, version: String(v.version) }, value: v.secondsLeft });

  const an = fam('usage_anomalies', 'gauge', 'Usage anomalies in the window, by key alias and kind (new-actor, new-host, usage-spike).');
  const counts = new Map<string, { key: string; kind: string; n: number }>();
  for (const a of r.anomalies) {
    const id = `${a.alias}\u0000${a.kind}`;
    const c = counts.get(id) ?? { key: a.alias, kind: a.kind, n: 0 };
    c.n++;
    counts.set(id, c);
  }
  for (const c of counts.values()) an.samples.push({ labels: { key: c.key, kind: c.kind }, value: c.n });

  fam('audit_last_sequence', 'gauge', 'Sequence number of the newest audit record.').samples.push({ labels: {}, value: r.audit.lastSeq });
  fam('audit_unsealed_records', 'gauge', 'Audit records not sealed yet (written without a token session).').samples.push({ labels: {}, value: r.audit.unsealed });

  const out: string[] = [];
  for (const f of fams) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(line(`${f.name}${s.suffix ?? ''}`, s.labels, s.value));
  }
  return `${out.join('\n')}\n`;
}
