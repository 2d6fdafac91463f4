import type { Handler } from '../result.js';
import { exportRecord, iterateRecords } from '../../audit/query.js';
import { takeCheckpoint } from '../../audit/checkpoint.js';
import { usage } from '../../errors.js';
import { writeOutputAtomic } from '../io.js';
import { writeLinesAtomic } from '../write-lines.js';
import { parseWindow } from '../../audit/when.js';
import { whole } from './audit.js';

export const run: Handler = async (rt, _args, o) => {
  if (o.out === undefined) throw usage('audit export needs --out FILE (kmsctl audit --jsonl prints the same lines on stdout)');
  const out = String(o.out);
  // --out - puts the records on stdout, so the summary goes to stderr and there is no room for --json.
  const toStdout = out === '-';
  if (toStdout && rt.flags.json) throw usage('audit export --out - writes the records to stdout, where a --json document cannot go too: pass --out FILE, or drop --json');
  const now = rt.now();
  // Only the window and the sequence number select: a SIEM takes every record of that stretch.
  const w = parseWindow(o, now);
  const filter = { since: w.since, until: w.until, sinceSeq: whole('--since-seq', o.sinceSeq, 0) };
  const db = rt.ledger();
  // One read transaction: the export and the checkpoint describe the same moment of the ledger.
  const res = db.transaction(() => {
    let first: number | null = null;
    let last: number | null = null;
    const lines = function* () {
      for (const r of iterateRecords(db, filter)) {
        first ??= r.seq;
        last = r.seq;
        yield JSON.stringify(exportRecord(r));
      }
    };
    const count = writeLinesAtomic(out, lines());
    return { count, first, last, checkpoint: takeCheckpoint(db, now) };
  })();
  if (o.checkpoint !== undefined) writeOutputAtomic(String(o.checkpoint), `${JSON.stringify(res.checkpoint, null, 2)}\n`);
  const lines = [`exported ${res.count} record${res.count === 1 ? '' : 's'}${res.first === null ? '' : ` (seq ${res.first}..${res.last})`} to ${out}`];
  if (o.checkpoint !== undefined) {
    lines.push(`checkpoint: seq ${res.checkpoint.seq}${res.checkpoint.seal ? '' : ' (not sealed yet)'} written to ${String(o.checkpoint)}; keep it away from this host and check with kmsctl audit verify --checkpoint FILE`);
  }
  if (toStdout) {
    if (!rt.flags.quiet) process.stderr.write(`${lines.join('\n').replace(' to -', ' to stdout')}\n`);
    return { data: {}, text: '' };
  }
  return {
    data: { out, records: res.count, firstSeq: res.first, lastSeq: res.last, checkpoint: res.checkpoint, checkpointFile: o.checkpoint === undefined ? null : String(o.checkpoint) },
    text: lines.join('\n'),
  };
};
