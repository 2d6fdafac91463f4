import type { Db } from '../ledger/db.js';
import { readBinding } from '../keys/binding.js';
import { badData } from '../errors.js';
import { GENESIS_HASH } from './canonical.js';

// A checkpoint names the newest record at one moment: its sequence number, hash and seal. Kept away
// from the ledger (a SIEM, a ticket, another host), it lets `audit verify --checkpoint` notice that the
// newest records were cut off, which the chain alone cannot show.

export const CHECKPOINT_FORMAT = 'kmsctl-audit-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  seq: number;
  hash: Buffer;
  seal: Buffer | null;
}

export interface CheckpointDocument {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  seq: number;
  hash: string;
  seal: string | null;
  /** The time written in record `seq`. */
  ts: string | null;
  takenAt: string;
  token: { serial: string; label: string } | null;
}

/** The ledger's newest record as a checkpoint; seq 0 and the genesis hash for an empty trail. */
export function takeCheckpoint(db: Db, now: Date): CheckpointDocument {
  const last = db.prepare('SELECT seq, ts, hash, seal FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; ts: string; hash: Buffer; seal: Buffer | null } | undefined;
  const b = readBinding(db);
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    seq: last?.seq ?? 0,
    hash: (last?.hash ?? GENESIS_HASH).toString('hex'),
    seal: last?.seal ? last.seal.toString('hex') : null,
    ts: last?.ts ?? null,
    takenAt: now.toISOString(),
    token: b ? { serial: b.serial, label: b.label } : null,
  };
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Parses a checkpoint file; anything malformed is bad data (exit 65) naming the field. */
export function parseCheckpoint(text: string, source: string): Checkpoint {
  const bad = (why: string) => badData(`${source} is not a kmsctl audit checkpoint: ${why}`, { reason: 'bad-checkpoint' });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('it is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== CHECKPOINT_FORMAT) throw bad(`"format" must be "${CHECKPOINT_FORMAT}"`);
  if (d.version !== CHECKPOINT_VERSION) throw bad(`"version" ${JSON.stringify(d.version)} is not one this kmsctl reads (${CHECKPOINT_VERSION})`);
  if (typeof d.seq !== 'number' || !Number.isSafeInteger(d.seq) || d.seq < 0) throw bad('"seq" must be a whole number >= 0');
  if (typeof d.hash !== 'string' || !HEX32.test(d.hash)) throw bad('"hash" must be 64 lowercase hex digits');
  if (d.seal !== null && (typeof d.seal !== 'string' || !HEX32.test(d.seal))) throw bad('"seal" must be null or 64 lowercase hex digits');
  if (d.seq === 0 && d.hash !== GENESIS_HASH.toString('hex')) throw bad('seq 0 must carry the genesis hash (64 zeros)');
  return { seq: d.seq, hash: Buffer.from(d.hash, 'hex'), seal: typeof d.seal === 'string' ? Buffer.from(d.seal, 'hex') : null };
}
