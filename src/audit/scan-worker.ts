import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { openForScan } from '../ledger/db.js';
import { scanRange } from './scan.js';
import { sealerOf } from './seal-key.js';

// The second thread of a parallel audit verify (verify-parallel.ts): scans one range of the trail
// on its own read-only connection and posts the ScanResult back.

interface Job {
  path: string;
  after: number;
  prevHex: string;
  to: number;
  key?: KeyObject;
}

const job = workerData as Job;
const db = openForScan(job.path);
try {
  const sealer = job.key ? sealerOf(job.key) : undefined;
  parentPort!.postMessage(db.transaction(() => scanRange(db, job.after, job.prevHex, job.to, sealer))());
} finally {
  db.close();
}
