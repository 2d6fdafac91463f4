import { P as pkcs11js } from '../token/pkcs11.js';
import { listIntents, deleteIntent, recordRolledBack, type IntentRow, type KeyRow, type VersionRow } from '../ledger/records.js';
import { immediate } from '../ledger/db.js';
import { KmsError } from '../errors.js';
import { startTimer } from '../clock.js';
import { templatesFor, USAGE_FLAGS, type Handle, type ObjectClass, type ObjectSummary } from '../token/token.js';
import { completeCreate, publicKeyOf } from './create.js';
import { completeRotate } from './rotate.js';
import { completePurge, destroyObjects } from './lifecycle.js';
import { isAsymmetric, type Spec } from './specs.js';
import type { KeyCtx } from './context.js';

// doctor: the ledger against the token. Each finding is one line; --repair completes or rolls back
// interrupted operations, puts drifted attributes back (a changed CKA_ID too), and removes orphans only
// when confirmed. It never destroys an object that a ledger version names, by its CKA_ID or by its label.

const P = pkcs11js;
const KMSCTL_LABEL = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/v(\d+)$/;

export type FindingKind =
  | 'pending-intent'
  | 'intent-in-progress'
  | 'missing-object'
  | 'moved-id'
  | 'duplicate-label'
  | 'label-mismatch'
  | 'orphan'
  | 'attribute-drift'
  | 'duplicate-id';

export interface Finding {
  kind: FindingKind;
  message: string;
  keyId?: string;
  alias?: string;
  version?: number;
  /** The CKA_ID the ledger names for a version's finding; an orphan's or a duplicate's own CKA_ID. */
  ckaId?: string;
  /** moved-id, duplicate-label, label-mismatch: the object as found on the token. */
  object?: { cls: ObjectClass; label: string; ckaId: string };
  repaired?: string;
  /** What --repair did, as one stable word (completed-rotate, restored-cka-id ...), also in its audit record. */
  action?: string;
  /** Why --repair left it as it is. */
  left?: string;
}

interface Context {
  ctx: KeyCtx;
  keys: Map<string, KeyRow>;
  versions: VersionRow[];
  objects: ObjectSummary[];
  intents: IntentRow[];
  /** The token object a finding is about (moved-id, orphan): repair acts on that object and no other. */
  targets: Map<Finding, ObjectSummary>;
}

function classesOf(spec: Spec): ObjectClass[] {
  return isAsymmetric(spec) ? ['private', 'public'] : ['secret'];
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

const hex = (b: Buffer) => b.toString('hex');

/**
 * The token first, then the ledger in one read transaction. A create or rotate writes its intent before
 * the token object and removes it only in the transaction that adds the version, so any object seen
 * here is named by either an intent or a version in the later ledger snapshot: one being made by a
 * concurrent rotate is never taken for an orphan.
 */
function load(ctx: KeyCtx): Context {
  const objects = ctx.token.listKeyObjects();
  const read = ctx.db.transaction(() => ({
    keys: new Map((ctx.db.prepare('SELECT * FROM keys').all() as KeyRow[]).map((k) => [k.id, k])),
    versions: ctx.db.prepare('SELECT * FROM versions ORDER BY key_id, version').all() as VersionRow[],
    intents: listIntents(ctx.db),
  }));
  return { ctx, objects, targets: new Map(), ...read() };
}

const ATTR_NAME: Record<number, string> = {
  [P.CKA_EXTRACTABLE]: 'CKA_EXTRACTABLE',
  [P.CKA_SENSITIVE]: 'CKA_SENSITIVE',
  [P.CKA_PRIVATE]: 'CKA_PRIVATE',
  ...Object.fromEntries(Object.values(USAGE_FLAGS).flat().map(([t, n]) => [t, `CKA_${n.toUpperCase().replace('-', '_')}`])),
};

/** Attributes of the object that differ from the template kmsctl made it with. */
function drift(c: Context, h: Handle, cls: ObjectClass, key: KeyRow, v: VersionRow): Array<{ type: number; want: boolean; have: boolean }> {
  const t = templatesFor(key.spec, { id: v.cka_id, label: `${key.alias}/v${v.version}`, exportable: key.exportable === 1 })[cls]!;
  const checked = t.filter((a) => typeof a.value === 'boolean' && a.type in ATTR_NAME);
  const have = c.ctx.token.attributes(h, checked.map((a) => a.type));
  return checked
    .map((a) => ({ type: a.type, want: a.value as boolean, have: have.get(a.type)?.[0] === 1 }))
    .filter((d) => d.want !== d.have);
}

const KIND_ATTRS: Record<number, string> = { [P.CKA_KEY_TYPE]: 'key type', [P.CKA_VALUE_LEN]: 'key length', [P.CKA_MODULUS_BITS]: 'modulus size' };

/**
 * Why this object cannot be version v's object of its class, or null when it can: the class, key type
 * and size of the version's spec, and for a public key the key itself against the one in the ledger.
 */
function misfit(c: Context, o: ObjectSummary, key: KeyRow, v: VersionRow): string | null {
  if (!classesOf(key.spec).includes(o.cls)) return `it is a ${o.cls} key object, which a ${key.spec} version does not have`;
  try {
    const t = templatesFor(key.spec, { id: v.cka_id, label: o.label })[o.cls]!;
    const want = t.filter((a) => a.type in KIND_ATTRS && typeof a.value === 'number');
    const have = c.ctx.token.numberAttributes(o.handle, want.map((a) => a.type));
    for (const a of want) if (have.get(a.type) !== a.value) return `its ${KIND_ATTRS[a.type]} is not that of a ${key.spec} key`;
    if (o.cls === 'public' && v.public_key) {
      const pub = publicKeyOf(key.spec, c.ctx.token.publicMaterial(o.handle, key.spec));
      if (!pub || !pub.equals(v.public_key)) return 'its public key is not the one the ledger holds for that version';
    }
  } catch (e) {
    return `its attributes cannot be read (${e instanceof Error ? e.message : String(e)})`;
  }
  return null;
}

export function diagnose(ctx: KeyCtx): { findings: Finding[]; context: Context } {
  const c = load(ctx);
  const out: Finding[] = [];

  for (const i of c.intents) {
    const key = c.keys.get(i.key_id);
    const alias = key?.alias ?? i.alias ?? undefined;
    const base = { keyId: i.key_id, alias, version: i.version ?? (JSON.parse(i.data).version as number | undefined), ckaId: i.cka_id ? hex(i.cka_id) : undefined };
    if (alive(i.pid)) out.push({ kind: 'intent-in-progress', message: `${i.op} of ${alias ?? i.key_id} is in progress in process ${i.pid} (since ${i.created_at})`, ...base });
    else out.push({ kind: 'pending-intent', message: `${i.op} of ${alias ?? i.key_id}${base.version ? ` v${base.version}` : ''} was interrupted at ${i.created_at} (process ${i.pid} is gone)`, ...base });
  }

  const byId = new Map<string, ObjectSummary[]>();
  for (const o of c.objects) {
    const k = `${o.cls}:${hex(o.id)}`;
    byId.set(k, [...(byId.get(k) ?? []), o]);
  }
  for (const [k, objs] of byId) {
    if (objs.length > 1) {
      const [cls, id] = k.split(':');
      out.push({ kind: 'duplicate-id', message: `${objs.length} ${cls} objects share CKA_ID ${id} (labels ${objs.map((o) => o.label).sort().join(', ')}): lookups of that version refuse to guess`, ckaId: id });
    }
  }

  // CKA_IDs an interrupted (or running) operation is working on: a purge killed after C_DestroyObject
  // explains its own missing object, and a create or rotate its not-yet-recorded objects.
  const pending = new Set(c.intents.filter((i) => i.cka_id).map((i) => hex(i.cka_id!)));
  const named = new Set<string>();
  /** Missing objects by "keyId:version:class", so that an object carrying that version's label can explain one. */
  const missing = new Map<string, Finding>();
  for (const v of c.versions) {
    const key = c.keys.get(v.key_id)!;
    if (v.state === 'destroyed') continue;
    named.add(hex(v.cka_id));
    for (const cls of classesOf(key.spec)) {
      const objs = byId.get(`${cls}:${hex(v.cka_id)}`) ?? [];
      const where = { keyId: key.id, alias: key.alias, version: v.version, ckaId: hex(v.cka_id) };
      if (objs.length === 0) {
        if (pending.has(hex(v.cka_id))) continue;
        // Listed before the ledger was read: a version completed in between has its object by now.
        if (ctx.token.findAll(cls, v.cka_id).length > 0) continue;
        const f: Finding = { kind: 'missing-object', message: `${key.alias} v${v.version} (${v.state}): its ${cls} key object is missing from the token`, ...where };
        out.push(f);
        missing.set(`${key.id}:${v.version}:${cls}`, f);
        continue;
      }
      // Several objects under one CKA_ID are a duplicate-id finding: kmsctl cannot tell which one it
      // made, so it neither judges nor "repairs" their attributes.
      if (objs.length > 1) continue;
      for (const o of objs) {
        const d = drift(c, o.handle, cls, key, v);
        if (d.length) {
          out.push({ kind: 'attribute-drift', message: `${key.alias} v${v.version} ${cls} object: ${d.map((x) => `${ATTR_NAME[x.type]} is ${x.have} (kmsctl set ${x.want})`).join(', ')}`, ...where });
        }
      }
    }
  }

  // Objects with a kmsctl label under a CKA_ID no version or intent names. When the label names a
  // version the ledger still has, the object is that version's (its CKA_ID changed behind kmsctl's
  // back: pkcs11-tool --set-id) or an impostor; either way it is never an orphan to destroy.
  const byAlias = new Map([...c.keys.values()].map((k) => [k.alias, k]));
  const live = new Map(c.versions.filter((v) => v.state !== 'destroyed').map((v) => [`${v.key_id}:${v.version}`, v]));
  const claims = new Map<string, Array<{ o: ObjectSummary; key: KeyRow; v: VersionRow }>>();
  for (const o of c.objects) {
    const id = hex(o.id);
    const m = KMSCTL_LABEL.exec(o.label);
    if (named.has(id) || pending.has(id) || !m) continue;
    const key = byAlias.get(m[1]);
    const v = key && live.get(`${key.id}:${Number(m[2])}`);
    const object = { cls: o.cls, label: o.label, ckaId: id };
    if (!key || !v) {
      const f: Finding = { kind: 'orphan', message: `token ${o.cls} object "${o.label}" (CKA_ID ${id}) carries a kmsctl label but no ledger version names it`, ckaId: id };
      out.push(f);
      c.targets.set(f, o);
      continue;
    }
    const where = { keyId: key.id, alias: key.alias, version: v.version, ckaId: hex(v.cka_id), object };
    const why = misfit(c, o, key, v);
    if (why) {
      out.push({ kind: 'label-mismatch', message: `token ${o.cls} object "${o.label}" (CKA_ID ${id}) carries the label of ${key.alias} v${v.version}, but ${why}: it is not that version's object`, ...where });
      continue;
    }
    const slot = `${key.id}:${v.version}:${o.cls}`;
    if (!missing.has(slot)) {
      out.push({ kind: 'duplicate-label', message: `token ${o.cls} object "${o.label}" (CKA_ID ${id}) carries the label of ${key.alias} v${v.version}, whose own ${o.cls} object (CKA_ID ${hex(v.cka_id)}) is on the token too: a copy or an impostor`, ...where });
      continue;
    }
    claims.set(slot, [...(claims.get(slot) ?? []), { o, key, v }]);
  }
  for (const [slot, list] of claims) {
    const lost = missing.get(slot)!;
    if (list.length === 1) {
      const { o, key, v } = list[0];
      const f: Finding = {
        kind: 'moved-id',
        message: `${key.alias} v${v.version} (${v.state}): its ${o.cls} key object now has CKA_ID ${hex(o.id)} instead of ${hex(v.cka_id)} (label, class and key type match)`,
        keyId: key.id,
        alias: key.alias,
        version: v.version,
        ckaId: hex(v.cka_id),
        object: { cls: o.cls, label: o.label, ckaId: hex(o.id) },
      };
      out.splice(out.indexOf(lost), 1, f);
      c.targets.set(f, o);
      continue;
    }
    for (const { o, key, v } of list) {
      out.push({
        kind: 'duplicate-label',
        message: `token ${o.cls} object "${o.label}" (CKA_ID ${hex(o.id)}) is one of ${list.length} objects that carry the label of ${key.alias} v${v.version}, whose own object is missing: kmsctl will not guess which one it is`,
        keyId: key.id,
        alias: key.alias,
        version: v.version,
        ckaId: hex(v.cka_id),
        object: { cls: o.cls, label: o.label, ckaId: hex(o.id) },
      });
    }
  }
  return { findings: out, context: c };
}

interface Done {
  text: string;
  action: string;
  /** More for the finding's audit record. */
  details?: Record<string, unknown>;
}

function repairIntent(c: Context, i: IntentRow): Done {
  const ctx = c.ctx;
  const data = JSON.parse(i.data) as { key?: KeyRow; spec?: Spec; version?: number; wholeKey?: boolean };
  if (i.op === 'purge') {
    const n = destroyObjects(ctx, i.cka_id!);
    completePurge(ctx, i.key_id, data.version!, data.wholeKey === true, i.id);
    return { text: `completed the purge (${n} object${n === 1 ? '' : 's'} destroyed now)`, action: 'completed-purge', details: { destroyedNow: n } };
  }
  const spec = (data.key?.spec ?? data.spec)!;
  const present = classesOf(spec).map((cls) => ctx.token.findAll(cls, i.cka_id!));
  const complete = present.every((h) => h.length === 1);
  const inLedger = ctx.db.prepare('SELECT 1 FROM versions WHERE cka_id = ?').get(i.cka_id);
  if (inLedger) {
    immediate(ctx.db, 'clearing a finished intent', () => deleteIntent(ctx.db, i.id));
    return { text: 'the ledger already had the version: cleared the intent', action: 'cleared-intent' };
  }
  if (complete) {
    const pubHandle = isAsymmetric(spec) ? present[1][0] : null;
    const publicKey = pubHandle ? publicKeyOf(spec, ctx.token.publicMaterial(pubHandle, spec)) : null;
    if (i.op === 'create') {
      completeCreate(ctx.db, data.key!, i.cka_id!, publicKey, i.id);
      return { text: `completed the create: version ${i.version} is in the ledger`, action: 'completed-create' };
    }
    // A later rotation may have completed while this one lay interrupted: the version joins the ledger
    // (its object exists, and nothing is lost), but it only becomes primary if it is the newest.
    const done = completeRotate(ctx.db, i.key_id, i.version!, i.cka_id!, publicKey, i.id, ctx.now().toISOString());
    const text = done.becamePrimary
      ? `completed the rotate: version ${i.version} is in the ledger and is primary (was ${done.before})`
      : `completed the rotate: version ${i.version} is in the ledger as an older version; version ${done.primary}, from a later rotation, stays primary and the key's last rotation time is unchanged`;
    return { text, action: 'completed-rotate', details: { primary: done.primary, becamePrimary: done.becamePrimary } };
  }
  // Half-made (or never made) on the token and unknown to the ledger: roll back. A rotation's number
  // stays given up, so that no later version ever takes it.
  let n = 0;
  for (const hs of present) for (const h of hs) { ctx.token.destroy(h); n++; }
  immediate(ctx.db, 'rolling back an intent', () => {
    deleteIntent(ctx.db, i.id);
    if (i.op === 'rotate' && i.version !== null && ctx.db.prepare('SELECT 1 FROM keys WHERE id = ?').get(i.key_id)) {
      recordRolledBack(ctx.db, { key_id: i.key_id, version: i.version, op: 'rotate', rolled_back_at: ctx.now().toISOString(), reason: `interrupted at ${i.created_at}; rolled back by doctor --repair` });
    }
  });
  const unused = i.op === 'rotate' ? `; version ${i.version} stays unused` : '';
  return { text: `rolled back the ${i.op}${n ? ` (removed ${n} partial object${n === 1 ? '' : 's'})` : ''}: nothing was lost, it never completed${unused}`, action: `rolled-back-${i.op}`, details: { removedPartial: n } };
}

/** Sets a moved object's CKA_ID back to its version's, after checking again that nothing changed meanwhile. */
function restoreId(c: Context, f: Finding): Done | { left: string } {
  const ctx = c.ctx;
  const o = c.targets.get(f)!;
  const want = Buffer.from(f.ckaId!, 'hex');
  return immediate(ctx.db, 'restoring a CKA_ID', () => {
    const v = ctx.db.prepare("SELECT 1 FROM versions WHERE key_id = ? AND version = ? AND cka_id = ? AND state != 'destroyed'").get(f.keyId, f.version, want);
    if (!v) return { left: 'the ledger changed meanwhile (the version is gone or destroyed): run doctor again' };
    if (ctx.token.findAll(o.cls, want).length > 0) return { left: `a ${o.cls} object with the ledger's CKA_ID is on the token now: check both with the token's tools` };
    const now = ctx.token.identity(o.handle);
    if (!now.id.equals(o.id) || now.label !== o.label) return { left: 'the object changed since doctor looked at it: run doctor again' };
    ctx.token.setAttributes(o.handle, [{ type: P.CKA_ID, value: want }]);
    return { text: `set its CKA_ID back to ${f.ckaId}: ${f.alias} v${f.version} works again`, action: 'restored-cka-id', details: { from: f.object!.ckaId, to: f.ckaId } };
  });
}

/** Destroys exactly the orphan object the finding names, after checking again that nothing names it. */
function destroyOrphan(c: Context, f: Finding): Done | { left: string } {
  const ctx = c.ctx;
  const o = c.targets.get(f)!;
  const m = KMSCTL_LABEL.exec(o.label)!;
  // Checked again under the write lock: never destroy what a version or an intent names, by CKA_ID or by label.
  return immediate(ctx.db, 'checking an orphan', () => {
    const byId = ctx.db.prepare('SELECT 1 FROM versions WHERE cka_id = ? UNION ALL SELECT 1 FROM intents WHERE cka_id = ?').get(o.id, o.id);
    const byLabel = ctx.db.prepare("SELECT 1 FROM versions v JOIN keys k ON k.id = v.key_id WHERE k.alias = ? AND v.version = ? AND v.state != 'destroyed'").get(m[1], Number(m[2]));
    if (byId || byLabel) return { left: 'the ledger names it now (an operation finished meanwhile): left in place' };
    const now = ctx.token.identity(o.handle);
    if (!now.id.equals(o.id) || now.label !== o.label) return { left: 'the object changed since doctor looked at it: run doctor again' };
    ctx.token.destroy(o.handle);
    return { text: 'destroyed 1 orphan object', action: 'destroyed-orphan', details: { label: o.label, cls: o.cls } };
  });
}

export interface RepairRecord {
  ok: boolean;
  errorCode?: string;
  durationMs: number;
  /** Non-secret facts for the audit record: the finding, what was done, and the object it touched. */
  details: Record<string, unknown>;
}

export interface RepairOptions {
  /** Orphans are destroyed only when this says yes (--yes, or the operator typed it at a prompt). */
  removeOrphans: boolean;
  /** Called once for every finding that --repair changed something for (or failed to), right after it. */
  record?: (f: Finding, r: RepairRecord) => void;
}

export function repair(ctx: KeyCtx, o: RepairOptions): Finding[] {
  const { findings, context: c } = diagnose(ctx);
  for (const f of findings) {
    const elapsed = startTimer();
    let done: Done | { left: string } | null = null;
    try {
      if (f.kind === 'pending-intent') {
        const i = c.intents.find((x) => x.cka_id && x.cka_id.toString('hex') === f.ckaId && x.key_id === f.keyId)!;
        done = repairIntent(c, i);
      } else if (f.kind === 'attribute-drift') {
        const key = c.keys.get(f.keyId!)!;
        const v = c.versions.find((x) => x.key_id === f.keyId && x.version === f.version)!;
        for (const cls of classesOf(key.spec)) {
          const hs = ctx.token.findAll(cls, v.cka_id);
          if (hs.length !== 1) continue; // a duplicate: left to the operator, as its finding says
          const d = drift(c, hs[0], cls, key, v);
          if (d.length) ctx.token.setAttributes(hs[0], d.map((x) => ({ type: x.type, value: x.want })));
        }
        done = { text: 'set the attributes back to what kmsctl made', action: 'restored-attributes' };
      } else if (f.kind === 'moved-id') {
        done = restoreId(c, f);
      } else if (f.kind === 'orphan') {
        done = o.removeOrphans ? destroyOrphan(c, f) : { left: 'orphans are removed only with --yes (or when confirmed at the prompt)' };
      } else if (f.kind === 'missing-object') {
        done = { left: 'the key material is gone from the token; restore the token from its backup (kmsctl cannot recreate a key)' };
      } else if (f.kind === 'duplicate-label' || f.kind === 'label-mismatch') {
        done = { left: 'it carries the label of a version the ledger still has, so kmsctl never destroys it; check it with the token\'s tools' };
      } else if (f.kind === 'duplicate-id') {
        done = { left: 'kmsctl will not guess which object is real; remove the impostor with the token\'s tools after checking it' };
      } else {
        done = { left: 'another kmsctl is still working on it; run doctor again when it has finished' };
      }
    } catch (e) {
      f.left = `repair failed: ${e instanceof Error ? e.message : String(e)}`;
      o.record?.(f, { ok: false, errorCode: e instanceof KmsError ? (e.reason ?? e.code) : 'internal', durationMs: elapsed(), details: { finding: f.kind, ckaId: f.ckaId, object: f.object, left: f.left } });
      continue;
    }
    if ('left' in done) {
      f.left = done.left;
      continue;
    }
    f.repaired = done.text;
    f.action = done.action;
    o.record?.(f, { ok: true, durationMs: elapsed(), details: { finding: f.kind, action: done.action, repaired: done.text, ckaId: f.ckaId, object: f.object, ...done.details } });
  }
  return findings;
}
