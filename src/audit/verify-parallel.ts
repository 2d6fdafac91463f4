import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Db } from '../ledger/db.js';
import { GENESIS_HEX, scanRange, type ScanResult } from './scan.js';
import { addScan, checkpointBreak, emptyReport, verifyAudit, type VerifyOptions, type VerifyReport } from './verify.js';

// audit verify over a large trail on two threads: this one scans the older half, a worker the newer
// half from the stored hash of the record before it (which this thread's scan proves). Only an intact
// trail is ever reported from here: when either half stops short, or the halves do not join, the
// single-threaded verify of verify.ts walks the whole trail again and names the break.

/** Below this many records the worker's start-up costs more than it saves. */
const PARALLEL_MIN = 50_000;

/** The worker's bundle, beside the CLI's own (scripts/bundle.mjs); absent in an unbundled build. */
function workerFile(): string | undefined {
  const f = fileURLToPath(new URL('./audit-scan-worker.cjs', import.meta.url));
  return existsSync(f) ? f : undefined;
}

function scanInWorker(file: string, job: { path: string; after: number; prevHex: string; to: number; key?: unknown }): Promise<ScanResult | undefined> {
  return new Promise((resolve) => {
    const w = new Worker(file, { workerData: job });
    let result: ScanResult | undefined;
    w.once('message', (m: ScanResult) => (result = m));
    // A worker that fails for any reason leaves the whole walk to this thread.
    w.once('error', () => resolve(undefined));
    w.once('exit', () => resolve(result));
  });
}

export async function verifyAuditParallel(db: Db, o: VerifyOptions = {}): Promise<VerifyReport> {
  const last = (db.prepare('SELECT max(seq) FROM audit').pluck().get() as number | null) ?? 0;
  const file = workerFile();
  const key = o.sealer?.key;
  if (last < PARALLEL_MIN || availableParallelism() < 2 || !file || (o.sealer && !key) || db.memory) return verifyAudit(db, o);
  const mid = Math.floor(last / 2);
  const midHex = db.prepare('SELECT lower(hex(hash)) FROM audit WHERE seq = ?').pluck().get(mid) as string | undefined;
  if (midHex === undefined) return verifyAudit(db, o);
  const second = scanInWorker(file, { path: db.name, after: mid, prevHex: midHex, to: last, key });
  const first = db.transaction(() => scanRange(db, 0, GENESIS_HEX, mid, o.sealer))();
  const newer = await second;
  // Each half reached its end only if every record in it passed.
  const joined =
    newer !== undefined &&
    first.lastGood === mid &&
    newer.lastGood === last &&
    // Sealing goes oldest first: a sealed record after an unsealed one is a break to be named.
    !(first.unsealed.count > 0 && newer.firstSealed !== null);
  if (!joined) return verifyAudit(db, o);
  const rep = { ...emptyReport(o.sealer !== undefined), threads: 2 };
  addScan(rep, first);
  addScan(rep, newer);
  if (o.checkpoint) {
    const brk = db.transaction(() => checkpointBreak(db, rep, o.checkpoint!, o.sealer))();
    if (brk) {
      rep.intact = false;
      rep.break = brk;
    }
  }
  return rep;
}
