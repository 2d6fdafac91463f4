import type { Handler } from '../result.js';
import { parseCheckpoint } from '../../audit/checkpoint.js';
import { findAuditKey } from '../../audit/seal.js';
import type { VerifyReport } from '../../audit/verify.js';
import { verifyAuditParallel } from '../../audit/verify-parallel.js';
import { checkFailed } from '../../errors.js';
import { LIMITS, readInput } from '../io.js';

function span(a: number | null, b: number | null): string {
  return a === null ? 'none' : a === b ? `seq ${a}` : `seq ${a}..${b}`;
}

function summary(rep: VerifyReport, sealNote: string): string[] {
  const lines = [`${rep.records} record${rep.records === 1 ? '' : 's'} (${span(rep.firstSeq, rep.lastSeq)})`, sealNote];
  if (rep.unsealed.count > 0) {
    lines.push(`unsealed: ${rep.unsealed.count} record${rep.unsealed.count === 1 ? '' : 's'} (${span(rep.unsealed.firstSeq, rep.unsealed.lastSeq)}) written without a token session; the next command with one seals them`);
  }
  if (rep.checkpoint) lines.push(`checkpoint: seq ${rep.checkpoint.seq} ${rep.checkpoint.matched ? 'matches' : 'does not match'}`);
  return lines;
}

// Reads only: verify never seals or writes a record, so what it reports is the ledger as it found it.
export const run: Handler = async (rt, _args, o) => {
  const checkpoint = o.checkpoint === undefined ? undefined : parseCheckpoint(readInput(String(o.checkpoint), 'audit verify --checkpoint', LIMITS.checkpoint).toString('utf8'), String(o.checkpoint));
  const db = rt.ledger();
  let sealNote: string;
  let auditKey: Record<string, unknown> | null = null;
  let sealer;
  if (o.chainOnly) {
    sealNote = 'seals: not checked (--chain-only); someone who rewrote records and recomputed the hashes would pass this check';
  } else {
    const key = findAuditKey(db, await rt.openToken());
    sealer = key?.sealer;
    auditKey = key ? { ckaId: key.ckaId.toString('hex'), recovered: key.recovered } : null;
    sealNote = key
      ? `seals: checked with the token's audit key${key.recovered ? ' (the ledger had lost its reference to it: found on the token by label)' : ''}`
      : 'seals: none yet (this ledger has no audit key; the next command with a token session makes one and seals the trail)';
  }
  const rep = await verifyAuditParallel(db, { sealer, checkpoint });
  const data = { ...rep, auditKey };
  if (!rep.intact) {
    const b = rep.break!;
    throw checkFailed(`the audit trail is broken at seq ${b.seq} (${b.kind}): ${b.message}`, {
      reason: b.kind,
      hint: `see the records around it with kmsctl audit --since-seq ${Math.max(0, b.seq - 2)} --limit 5, and compare with an export kept elsewhere`,
      details: data,
    });
  }
  const head = o.chainOnly ? 'hash chain intact' : 'audit trail intact';
  const lines = summary(rep, sealNote);
  if (!o.chainOnly && sealer) lines[1] = `seals: ${rep.sealed} checked with the token's audit key, all good${auditKey?.recovered ? ' (the ledger had lost its reference to the audit key: found on the token by label)' : ''}`;
  return { data, text: `${head}: ${lines.join('\n')}` };
};
