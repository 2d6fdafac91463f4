import type { Db } from '../ledger/db.js';
import type { Sealer } from './append.js';
import { ENCODED_COLUMNS, GENESIS_HASH, rowHash } from './canonical.js';

// The fast walk of audit verify over an intact trail: raw rows, hashes and seals compared as hex text
// (SQLite makes a string faster than better-sqlite3 makes a Buffer), nothing kept per record. It stops
// before the first record that fails a check; the full walk in verify.ts then names the break. A
// range of the trail can be scanned on its own, from the stored hash of the record before it, which
// is how audit verify splits a large trail across two threads (verify-parallel.ts).

export const GENESIS_HEX = GENESIS_HASH.toString('hex');

/** What a chain statement selects first, then any columns of its own (WHERE seq > ? AND seq <= ? ... LIMIT ?). */
export const CHAIN_COLUMNS = `${ENCODED_COLUMNS}, lower(hex(prev_hash)), lower(hex(hash))`;
const PAGE = 10_000;

interface RawStatement {
  all(...params: unknown[]): unknown;
}

/**
 * Visits, in order, each record after `after` up to `to` that the statement selects and that is the
 * next sequence number, links to the record before it (the first to `prevHex`) and matches its own
 * hash; it stops at the first that is not, or when `visit` returns false. Returns the last record
 * visited and accepted (`after` when none was). The one place the chain's rule is applied to raw rows:
 * audit verify's scan and the sealing of records that waited both walk with it.
 */
export function walkChain(stmt: RawStatement, after: number, prevHex: string, to: number, visit: (row: unknown[], hash: Buffer) => boolean): number {
  let seq = after;
  for (;;) {
    const rows = stmt.all(seq, to, PAGE) as unknown[][];
    if (rows.length === 0) return seq;
    for (const row of rows) {
      if (row[0] !== seq + 1 || row[13] !== prevHex) return seq;
      const h = rowHash(row, prevHex);
      const hex = h.toString('hex');
      if (hex !== row[14] || !visit(row, h)) return seq;
      seq++;
      prevHex = hex;
    }
  }
}

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

/**
 * Scans the records after `after` up to `to`, each linking to the one before (the first to
 * `prevHex`). With a sealer, each seal is recomputed and compared; without one, seals are only told
 * apart from missing ones.
 */
export function scanRange(db: Db, after: number, prevHex: string, to: number, sealer?: Sealer): ScanResult {
  // (hex() of NULL is '', so a missing seal stays NULL through the CASE.)
  const stmt = db.prepare(`SELECT ${CHAIN_COLUMNS}, CASE WHEN seal IS NULL THEN NULL ELSE lower(hex(seal)) END FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`).raw();
  const res: ScanResult = { lastGood: after, records: 0, sealed: 0, unsealed: { count: 0, firstSeq: null, lastSeq: null }, firstSealed: null };
  res.lastGood = walkChain(stmt, after, prevHex, to, (row, h) => {
    const seq = row[0] as number;
    const sealHex = row[15] as string | null;
    if (sealHex === null) {
      res.unsealed.count++;
      res.unsealed.firstSeq ??= seq;
      res.unsealed.lastSeq = seq;
    } else {
      if (res.unsealed.count > 0) return false;
      if (sealer) {
        if (sealer.seal(h).toString('hex') !== sealHex) return false;
        res.sealed++;
      }
      res.firstSealed ??= seq;
    }
    res.records++;
    return true;
  });
  return res;
}
