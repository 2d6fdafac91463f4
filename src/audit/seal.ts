import { startTimer } from '../clock.js';
import { P as pkcs11js } from '../token/pkcs11.js';
import type { Db } from '../ledger/db.js';
import { immediate } from '../ledger/db.js';
import { getMeta, setMeta } from '../ledger/records.js';
import { configError } from '../errors.js';
import { newCkaId } from '../keys/ids.js';
import type { Handle, Token } from '../token/token.js';
import { appendAuditInTx, type Actor, type Sealer } from './append.js';
import { sealerFromKey } from './seal-key.js';

// The audit key: one HMAC-SHA256 key per ledger on the token (generic secret, sign/verify only,
// sensitive, never extractable), found by the CKA_ID the ledger's meta table names. Whoever can write
// ledger.db but cannot log in to the token cannot compute a seal, so cannot forge, edit, delete or
// reorder sealed records without `audit verify` noticing.
//
// The token does one HMAC per session, not one per record: it derives the seal key, an HMAC of a fixed
// label under the audit key, and the records are sealed and checked with that in memory. Computing the
// seal key needs a login to the token exactly as computing a seal on the token would, so the guarantee
// is the same; what changes is that a 20,000-item batch or an audit verify of a million records costs
// one token operation instead of one per record. The seal key is never written anywhere.

const P = pkcs11js;
const HMAC = { mechanism: P.CKM_SHA256_HMAC };

export const AUDIT_KEY_LABEL = 'kmsctl-audit';
export const AUDIT_KEY_META = 'audit_key_id';

export interface AuditKey {
  sealer: Sealer;
  ckaId: Buffer;
  /** Made by this call (init, or the first sealing of a ledger from before seals). */
  created: boolean;
  /** The ledger had lost its reference to the key; it was found on the token by label and by a seal it verifies. */
  recovered: boolean;
}

/** The input the token MACs to derive the seal key (docs/audit-format.md, section 3). Frozen. */
export const SEAL_KEY_LABEL = Buffer.from('kmsctl audit seal key v1', 'utf8');

function sealerFor(token: Token, h: Handle): Sealer {
  return sealerFromKey(token.sign(h, HMAC, SEAL_KEY_LABEL, 32));
}

function labelOf(token: Token, h: Handle): string {
  return (token.attributes(h, [P.CKA_LABEL]).get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8');
}

/** The key the ledger names; its label is checked too, so the meta row cannot point seals at a user's HMAC key. */
function byReference(token: Token, ckaId: Buffer): Handle {
  const h = token.findOne('secret', ckaId, 'the audit key');
  const label = labelOf(token, h);
  if (label !== AUDIT_KEY_LABEL) {
    throw configError(`the ledger names token object "${label}" (CKA_ID ${ckaId.toString('hex')}) as its audit key, which is not a kmsctl audit key`, {
      reason: 'audit-key-mismatch',
      hint: 'the meta table of ledger.db was changed: restore it from a backup',
    });
  }
  return h;
}

/** A ledger whose reference was deleted: the one audit key on the token that verifies the newest seal. */
function byNewestSeal(db: Db, token: Token): { h: Handle; ckaId: Buffer } | undefined {
  const last = db.prepare('SELECT hash, seal FROM audit WHERE seal IS NOT NULL ORDER BY seq DESC LIMIT 1').get() as { hash: Buffer; seal: Buffer } | undefined;
  if (!last) return undefined;
  const fits = token.find([{ type: P.CKA_CLASS, value: P.CKO_SECRET_KEY }, { type: P.CKA_LABEL, value: AUDIT_KEY_LABEL }]).filter((h) => sealerFor(token, h).check(last.hash, last.seal));
  if (fits.length !== 1) return undefined;
  return { h: fits[0], ckaId: token.attributes(fits[0], [P.CKA_ID]).get(P.CKA_ID)! };
}

function hasSealedRecords(db: Db): boolean {
  return db.prepare('SELECT 1 FROM audit WHERE seal IS NOT NULL LIMIT 1').get() !== undefined;
}

const UNKNOWN_KEY = (what: string) =>
  configError(`the ledger holds sealed audit records but ${what}`, {
    reason: 'audit-key-unknown',
    hint: 'restore ledger.db from a backup; kmsctl audit verify --chain-only still checks the hash chain',
  });

/**
 * The ledger's audit key for checking seals, read-only (audit verify): undefined when the ledger has
 * no audit key and no sealed record yet (a ledger from before seals that no command has sealed).
 */
export function findAuditKey(db: Db, token: Token): AuditKey | undefined {
  const ref = getMeta(db, AUDIT_KEY_META);
  if (ref !== undefined) {
    const ckaId = Buffer.from(ref, 'hex');
    return { sealer: sealerFor(token, byReference(token, ckaId)), ckaId, created: false, recovered: false };
  }
  if (!hasSealedRecords(db)) return undefined;
  const found = byNewestSeal(db, token);
  if (!found) throw UNKNOWN_KEY('names no audit key, and no audit key on the token verifies them');
  return { sealer: sealerFor(token, found.h), ckaId: found.ckaId, created: false, recovered: true };
}

/**
 * The ledger's audit key, made on the token the first time (init, or the first command with a token
 * session on a ledger from before seals). Made under the ledger's write lock, so two processes never
 * make two. With `note`, the making is itself an audit record, sealed in the same transaction.
 */
export function ensureAuditKey(db: Db, token: Token, note?: { who: Actor; now: () => Date }): AuditKey {
  if (getMeta(db, AUDIT_KEY_META) !== undefined) return findAuditKey(db, token)!;
  const t0 = startTimer();
  return immediate(db, 'making the audit key', () => {
    let key: AuditKey;
    if (getMeta(db, AUDIT_KEY_META) !== undefined) return findAuditKey(db, token)!;
    if (hasSealedRecords(db)) {
      // Making a new key here would leave every earlier seal unverifiable; find the old one instead.
      const found = byNewestSeal(db, token);
      if (!found) throw UNKNOWN_KEY('names no audit key, and no audit key on the token verifies them');
      setMeta(db, AUDIT_KEY_META, found.ckaId.toString('hex'));
      key = { sealer: sealerFor(token, found.h), ckaId: found.ckaId, created: false, recovered: true };
    } else {
      const ckaId = newCkaId();
      // The hmac-sha256 template is exactly the audit key's: generic secret, CKA_SIGN and CKA_VERIFY
      // only, sensitive, not extractable, private, on the token.
      token.generate('hmac-sha256', { id: ckaId, label: AUDIT_KEY_LABEL });
      setMeta(db, AUDIT_KEY_META, ckaId.toString('hex'));
      key = { sealer: sealerFor(token, byReference(token, ckaId)), ckaId, created: true, recovered: false };
    }
    if (note) {
      appendAuditInTx(db, note.who, [{
        command: 'audit-key',
        outcome: 'success',
        durationMs: t0(),
        details: { [key.created ? 'created' : 'recovered']: true, ckaId: key.ckaId.toString('hex'), label: AUDIT_KEY_LABEL },
      }], note.now(), key.sealer);
    }
    return key;
  });
}

/** The CKA_ID the ledger names for its audit key, if any (doctor must not take it for an orphan). */
export function auditKeyId(db: Db): Buffer | undefined {
  const ref = getMeta(db, AUDIT_KEY_META);
  return ref === undefined ? undefined : Buffer.from(ref, 'hex');
}
