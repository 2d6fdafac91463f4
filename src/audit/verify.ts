import type { Db } from '../ledger/db.js';
import { badData } from '../errors.js';
import { GENESIS_HASH } from './canonical.js';
import { GENESIS_HEX, scanRange, type ScanResult } from './scan.js';
import { hashMatches, type Sealer, type StoredRecord } from './append.js';
import type { Checkpoint } from './checkpoint.js';

// `audit verify`: walks the records in sequence order, recomputing each hash from the frozen canonical
// encoding, checking each link to the record before, and (with a token session) each seal. It stops at
// the first break and names its sequence number and what kind of change explains it.

export type BreakKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'bad-seal' | 'truncated' | 'rewritten';

export interface Break {
  seq: number;
  kind: BreakKind;
  message: string;
}

export interface VerifyReport {
  intact: boolean;
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  sealsChecked: boolean;
  /** Records whose seal was checked on the token and found good. */
  sealed: number;
  /** Records written without a token session and not sealed yet: not a break, reported apart. */
  unsealed: { count: number; firstSeq: number | null; lastSeq: number | null };
  checkpoint?: { seq: number; hash: string; matched: boolean };
  /** 2 when a large intact trail was scanned in two halves at once (verify-parallel.ts). */
  threads: number;
  break?: Break;
}

export interface VerifyOptions {
  /** The audit key on the token; without it only the hash chain is checked. */
  sealer?: Sealer;
  checkpoint?: Checkpoint;
}

const PAGE = 1000;
/** How far from its current place a renumbered record's original sequence number is looked for. */
const SHIFT = 16;

class Ledger {
  private readonly pageStmt;
  private readonly atStmt;
  private readonly nextStmt;
  private readonly byHashStmt;
  private readonly byPrevStmt;

  constructor(db: Db) {
    this.pageStmt = db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?');
    this.atStmt = db.prepare('SELECT * FROM audit WHERE seq = ?');
    this.nextStmt = db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT 1');
    // The two lookups below scan the table; they run only once a break has been found.
    this.byHashStmt = db.prepare('SELECT * FROM audit WHERE hash = ? ORDER BY seq');
    this.byPrevStmt = db.prepare('SELECT * FROM audit WHERE prev_hash = ? ORDER BY seq');
  }

  page(after: number): StoredRecord[] {
    return this.pageStmt.all(after, PAGE) as StoredRecord[];
  }
  at(seq: number): StoredRecord | undefined {
    return this.atStmt.get(seq) as StoredRecord | undefined;
  }
  next(seq: number): StoredRecord | undefined {
    return this.nextStmt.get(seq) as StoredRecord | undefined;
  }
  byHash(hash: Buffer): StoredRecord[] {
    return this.byHashStmt.all(hash) as StoredRecord[];
  }
  byPrev(hash: Buffer): StoredRecord[] {
    return this.byPrevStmt.all(hash) as StoredRecord[];
  }
}

const range = (a: number, b: number) => (a === b ? `record ${a} was` : `records ${a}..${b} were`);

/**
 * The sequence number a record was written with, when it now sits elsewhere: its hash still matches
 * its fields under that number. Found through the record it links to, or nearby for a renumbering.
 */
function originalSeq(l: Ledger, r: StoredRecord, depth = 3): number | undefined {
  if (hashMatches(r)) return r.seq;
  if (depth === 0) return undefined;
  const candidates: number[] = [];
  if (r.prev_hash.equals(GENESIS_HASH)) candidates.push(1);
  const pred = l.byHash(r.prev_hash)[0];
  if (pred) {
    const p = originalSeq(l, pred, depth - 1);
    if (p !== undefined) candidates.push(p + 1);
  }
  for (let d = 1; d <= SHIFT; d++) candidates.push(r.seq + d, r.seq - d);
  return candidates.find((c) => c >= 1 && c !== r.seq && hashMatches(r, c));
}

/** A record whose successor links straight to the record before it was slipped in between them. */
function slippedIn(l: Ledger, r: StoredRecord, prevHash: Buffer): boolean {
  const n = l.next(r.seq);
  return n !== undefined && n.prev_hash.equals(prevHash) && !n.prev_hash.equals(r.hash);
}

/** The first record that fails the chain checks, at expected position e after record `p`: what happened? */
function classifyChain(l: Ledger, p: StoredRecord | undefined, e: number, r: StoredRecord): Break {
  const prevHash = p?.hash ?? GENESIS_HASH;
  const orig = originalSeq(l, r);
  if (orig !== undefined && orig !== e) {
    if (orig > e) {
      // Record r was written later than position e. Is the record that was written at e still here?
      const trueNext = l.byPrev(prevHash).find((x) => x.seq !== r.seq);
      if (trueNext) return { seq: e, kind: 'reordered', message: `record ${e} is out of place: it now sits at seq ${trueNext.seq}, and seq ${e} holds record ${orig}` };
      return { seq: e, kind: 'deleted', message: `${range(e, orig - 1)} deleted${r.seq !== orig ? ' and the later records renumbered' : ''}` };
    }
    const atOrig = l.at(orig);
    if (atOrig && atOrig.seq !== r.seq && atOrig.hash.equals(r.hash)) {
      return { seq: r.seq, kind: 'inserted', message: `record ${r.seq} was inserted: it is a copy of record ${orig}` };
    }
    return { seq: orig, kind: 'inserted', message: `a record was inserted at seq ${orig}: the record written as ${orig} now sits at seq ${r.seq}` };
  }
  if (orig === undefined && r.seq > e) return { seq: e, kind: 'deleted', message: `${range(e, r.seq - 1)} deleted` };
  if (slippedIn(l, r, prevHash)) return { seq: r.seq, kind: 'inserted', message: `record ${r.seq} was inserted: the record after it links to record ${r.seq - 1}` };
  if (orig === undefined) return { seq: r.seq, kind: 'edited', message: `record ${r.seq} was edited: its fields no longer match its hash` };
  // Its own hash is right, but it links to something other than the record before it.
  if (p) return { seq: p.seq, kind: 'edited', message: `record ${p.seq} was edited and its hash recomputed: record ${r.seq} links to a different record ${p.seq}` };
  return { seq: r.seq, kind: 'edited', message: `record ${r.seq} does not start from the genesis hash` };
}

function classifySeal(l: Ledger, r: StoredRecord, prevHash: Buffer, why: string): Break {
  if (slippedIn(l, r, prevHash)) return { seq: r.seq, kind: 'inserted', message: `record ${r.seq} was inserted: the record after it links to record ${r.seq - 1}` };
  return { seq: r.seq, kind: 'bad-seal', message: `record ${r.seq} ${why}` };
}

export function verifyAudit(db: Db, o: VerifyOptions = {}): VerifyReport {
  // One read transaction: a consistent snapshot while other kmsctl processes keep appending.
  return db.transaction(() => walk(db, o))();
}

function walk(db: Db, o: VerifyOptions): VerifyReport {
  const l = new Ledger(db);
  const rep = emptyReport(o.sealer !== undefined);
  // The fast scan takes every record that passes; the walk below starts at the first that does not.
  const fast = scanRange(db, 0, GENESIS_HEX, Number.MAX_SAFE_INTEGER, o.sealer);
  addScan(rep, fast);
  let p: StoredRecord | undefined = fast.lastGood === 0 ? undefined : l.at(fast.lastGood);
  let firstUnsealed: { r: StoredRecord; prevHash: Buffer } | undefined;
  if (fast.unsealed.firstSeq !== null) {
    firstUnsealed = { r: l.at(fast.unsealed.firstSeq)!, prevHash: l.at(fast.unsealed.firstSeq - 1)?.hash ?? GENESIS_HASH };
  }
  let cursor = fast.lastGood;
  let brk: Break | undefined;
  walking: for (;;) {
    const rows = l.page(cursor);
    if (rows.length === 0) break;
    for (const r of rows) {
      cursor = r.seq;
      rep.records++;
      rep.firstSeq ??= r.seq;
      rep.lastSeq = r.seq;
      const e = (p?.seq ?? 0) + 1;
      const prevHash = p?.hash ?? GENESIS_HASH;
      if (r.seq !== e || !r.prev_hash.equals(prevHash) || !hashMatches(r)) {
        brk = classifyChain(l, p, e, r);
        break walking;
      }
      if (r.seal === null) {
        firstUnsealed ??= { r, prevHash };
        rep.unsealed.count++;
        rep.unsealed.firstSeq ??= r.seq;
        rep.unsealed.lastSeq = r.seq;
      } else {
        if (firstUnsealed) {
          // Sealing goes oldest first, in the same transaction as any later sealed record: a sealed
          // record after an unsealed one means that one's seal was removed (or it was slipped in).
          brk = classifySeal(l, firstUnsealed.r, firstUnsealed.prevHash, `has no seal, yet record ${r.seq} after it is sealed: its seal was removed`);
          break walking;
        }
        if (o.sealer) {
          if (!o.sealer.check(r.hash, r.seal)) {
            brk = classifySeal(l, r, prevHash, 'has a bad seal: its hash was not sealed by this ledger\'s audit key (edited with the chain recomputed, or forged)');
            break walking;
          }
          rep.sealed++;
        }
      }
      p = r;
    }
  }
  if (!brk && o.checkpoint) brk = checkCheckpoint(l, rep, o.checkpoint, o.sealer);
  if (brk) {
    rep.intact = false;
    rep.break = brk;
  }
  return rep;
}

/** Counts a scanned range into the report (ranges in order). */
export function addScan(rep: VerifyReport, r: ScanResult): void {
  if (r.records === 0) return;
  rep.records += r.records;
  rep.firstSeq ??= r.lastGood - r.records + 1;
  rep.lastSeq = r.lastGood;
  rep.sealed += r.sealed;
  rep.unsealed.count += r.unsealed.count;
  rep.unsealed.firstSeq ??= r.unsealed.firstSeq;
  if (r.unsealed.lastSeq !== null) rep.unsealed.lastSeq = r.unsealed.lastSeq;
}

export function emptyReport(sealsChecked: boolean): VerifyReport {
  return { intact: true, records: 0, firstSeq: null, lastSeq: null, sealsChecked, sealed: 0, unsealed: { count: 0, firstSeq: null, lastSeq: null }, threads: 1 };
}

/** With an intact chain counted into `rep`: the checkpoint's verdict (a break, or none). */
export function checkpointBreak(db: Db, rep: VerifyReport, cp: Checkpoint, sealer?: Sealer): Break | undefined {
  return checkCheckpoint(new Ledger(db), rep, cp, sealer);
}

function checkCheckpoint(l: Ledger, rep: VerifyReport, cp: Checkpoint, sealer?: Sealer): Break | undefined {
  if (cp.seal && sealer && !sealer.check(cp.hash, cp.seal)) {
    throw badData(`the checkpoint's seal does not verify with this ledger's audit key: the checkpoint was altered or belongs to another ledger`, { reason: 'checkpoint-seal' });
  }
  rep.checkpoint = { seq: cp.seq, hash: cp.hash.toString('hex'), matched: false };
  if (cp.seq === 0) {
    rep.checkpoint.matched = true;
    return undefined;
  }
  const last = rep.lastSeq ?? 0;
  if (cp.seq > last) {
    return { seq: last + 1, kind: 'truncated', message: `${range(last + 1, cp.seq)} cut off: the checkpoint names record ${cp.seq}, the ledger ends at ${last}` };
  }
  const r = l.at(cp.seq)!;
  if (!r.hash.equals(cp.hash)) {
    // Every record whose seal was checked is genuine, so the rewrite starts within the unsealed tail.
    const from = rep.sealsChecked && rep.unsealed.firstSeq !== null && rep.unsealed.firstSeq <= cp.seq ? rep.unsealed.firstSeq : cp.seq;
    return { seq: from, kind: 'rewritten', message: `record ${cp.seq} differs from the checkpoint: the newest records were cut off and replaced${from !== cp.seq ? ` from seq ${from} on` : ''}` };
  }
  rep.checkpoint.matched = true;
  return undefined;
}
