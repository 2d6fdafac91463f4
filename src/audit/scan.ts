import type { Db } from '../ledger/db.js';
import { ENCODED_COLUMNS, GENESIS_HASH, rowHash } from './canonical.js';

// The fast walk of audit verify over an intact trail: raw rows, hashes and seals compared as hex text
// (SQLite makes a string faster than better-sqlite3 makes a Buffer), nothing kept per record. It stops
// before the first record that fails a check; the full walk in verify.ts then names the break. A
// range of the trail can be scanned on its own, from the stored hash of the record before it, which
// is how audit verify splits a large trail across two threads (verify-parallel.ts).

export const GENESIS_HEX = GENESIS_HASH.toString('hex');

export interface ScanResult {
  /** The last record that passed every check (the `after` it started from when none did). */
  lastGood: number;
  /** Records that passed, sealed ones among them (seals are counted only when checked). */
  records: number;
  sealed: number;
  unsealed: { count: number; firstSeq: number | null; lastSeq: number | null };
  /** The first sealed record that passed, for joining ranges: sealed after unsealed is a break. */
  firstSealed: number | null;
}

const PAGE = 10_000;

/**
 * Scans the records after `after` up to `to`, each linking to the one before (the first to
 * `prevHex`). With `seal`, each seal is recomputed and compared; without it, seals are only told
 * apart from missing ones.
 */
export function scanRange(db: Db, after: number, prevHex: string, to: number, seal?: (hash: Buffer) => Buffer): ScanResult {
  // (hex() of NULL is '', so a missing seal stays NULL through the CASE.)
  const page = db
    .prepare(`SELECT ${ENCODED_COLUMNS}, lower(hex(prev_hash)), lower(hex(hash)), CASE WHEN seal IS NULL THEN NULL ELSE lower(hex(seal)) END FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
    .raw();
  const res: ScanResult = { lastGood: after, records: 0, sealed: 0, unsealed: { count: 0, firstSeq: null, lastSeq: null }, firstSealed: null };
  let seq = after;
  for (;;) {
    const rows = page.all(seq, to, PAGE) as unknown[][];
    if (rows.length === 0) return res;
    for (const row of rows) {
      if (row[0] !== seq + 1 || row[13] !== prevHex) return res;
      const h = rowHash(row, prevHex);
      const hex = h.toString('hex');
      if (hex !== row[14]) return res;
      const sealHex = row[15] as string | null;
      if (sealHex === null) {
        res.unsealed.count++;
        res.unsealed.firstSeq ??= seq + 1;
        res.unsealed.lastSeq = seq + 1;
      } else {
        if (res.unsealed.count > 0) return res;
        if (seal) {
          if (seal(h).toString('hex') !== sealHex) return res;
          res.sealed++;
        }
        res.firstSealed ??= seq + 1;
      }
      seq++;
      res.records++;
      res.lastGood = seq;
      prevHex = hex;
    }
  }
}
