import { P as pkcs11js } from '../token/pkcs11.js';
import { listIntents, deleteIntent, type IntentRow, type KeyRow, type VersionRow } from '../ledger/records.js';
import { immediate } from '../ledger/db.js';
import { templatesFor, USAGE_FLAGS, type Handle, type ObjectClass, type ObjectSummary } from '../token/token.js';
import { completeCreate, publicKeyOf } from './create.js';
import { completeRotate } from './rotate.js';
import { completePurge, destroyObjects } from './lifecycle.js';
import { isAsymmetric, type Spec } from './specs.js';
import type { KeyCtx } from './context.js';

// doctor: the ledger against the token. Each finding is one line; --repair completes or rolls back
// interrupted operations, puts drifted attributes back, and removes orphans only when confirmed. It
// never destroys an object that a ledger version names.

const P = pkcs11js;
const KMSCTL_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/v\d+$/;

export type FindingKind = 'pending-intent' | 'intent-in-progress' | 'missing-object' | 'orphan' | 'attribute-drift' | 'duplicate-id';

export interface Finding {
  kind: FindingKind;
  message: string;
  keyId?: string;
  alias?: string;
  version?: number;
  ckaId?: string;
  repaired?: string;
  /** Why --repair left it as it is. */
  left?: string;
}

interface Context {
  ctx: KeyCtx;
  keys: Map<string, KeyRow>;
  versions: VersionRow[];
  objects: ObjectSummary[];
  intents: IntentRow[];
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
  return { ctx, objects, ...read() };
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

export function diagnose(ctx: KeyCtx): { findings: Finding[]; context: Context } {
  const c = load(ctx);
  const out: Finding[] = [];
  const hex = (b: Buffer) => b.toString('hex');

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
        out.push({ kind: 'missing-object', message: `${key.alias} v${v.version} (${v.state}): its ${cls} key object is missing from the token`, ...where });
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
  for (const o of c.objects) {
    const id = hex(o.id);
    if (named.has(id) || pending.has(id) || !KMSCTL_LABEL.test(o.label)) continue;
    out.push({ kind: 'orphan', message: `token ${o.cls} object "${o.label}" (CKA_ID ${id}) carries a kmsctl label but no ledger version names it`, ckaId: id });
  }
  return { findings: out, context: c };
}

function repairIntent(c: Context, i: IntentRow): string {
  const ctx = c.ctx;
  const data = JSON.parse(i.data) as { key?: KeyRow; spec?: Spec; version?: number; wholeKey?: boolean };
  if (i.op === 'purge') {
    const n = destroyObjects(ctx, i.cka_id!);
    completePurge(ctx, i.key_id, data.version!, data.wholeKey === true, i.id);
    return `completed the purge (${n} object${n === 1 ? '' : 's'} destroyed now)`;
  }
  const spec = (data.key?.spec ?? data.spec)!;
  const present = classesOf(spec).map((cls) => ctx.token.findAll(cls, i.cka_id!));
  const complete = present.every((h) => h.length === 1);
  const inLedger = ctx.db.prepare('SELECT 1 FROM versions WHERE cka_id = ?').get(i.cka_id);
  if (inLedger) {
    immediate(ctx.db, 'clearing a finished intent', () => deleteIntent(ctx.db, i.id));
    return 'the ledger already had the version: cleared the intent';
  }
  if (complete) {
    const pubHandle = isAsymmetric(spec) ? present[1][0] : null;
    const publicKey = pubHandle ? publicKeyOf(spec, ctx.token.publicMaterial(pubHandle, spec)) : null;
    if (i.op === 'create') completeCreate(ctx.db, data.key!, i.cka_id!, publicKey, i.id);
    else completeRotate(ctx.db, i.key_id, i.version!, i.cka_id!, publicKey, i.id, ctx.now().toISOString());
    return `completed the ${i.op}: version ${i.version} is in the ledger`;
  }
  // Half-made (or never made) on the token and unknown to the ledger: roll back.
  let n = 0;
  for (const hs of present) for (const h of hs) { ctx.token.destroy(h); n++; }
  immediate(ctx.db, 'rolling back an intent', () => deleteIntent(ctx.db, i.id));
  return `rolled back the ${i.op}${n ? ` (removed ${n} partial object${n === 1 ? '' : 's'})` : ''}: nothing was lost, it never completed`;
}

export interface RepairOptions {
  /** Orphans are destroyed only when this says yes (--yes, or the operator typed it at a prompt). */
  removeOrphans: boolean;
}

export function repair(ctx: KeyCtx, o: RepairOptions): Finding[] {
  const { findings, context: c } = diagnose(ctx);
  for (const f of findings) {
    try {
      if (f.kind === 'pending-intent') {
        const i = c.intents.find((x) => x.cka_id && x.cka_id.toString('hex') === f.ckaId && x.key_id === f.keyId)!;
        f.repaired = repairIntent(c, i);
      } else if (f.kind === 'attribute-drift') {
        const key = c.keys.get(f.keyId!)!;
        const v = c.versions.find((x) => x.key_id === f.keyId && x.version === f.version)!;
        for (const cls of classesOf(key.spec)) {
          const hs = ctx.token.findAll(cls, v.cka_id);
          if (hs.length !== 1) continue; // a duplicate: left to the operator, as its finding says
          const d = drift(c, hs[0], cls, key, v);
          if (d.length) ctx.token.setAttributes(hs[0], d.map((x) => ({ type: x.type, value: x.want })));
        }
        f.repaired = 'set the attributes back to what kmsctl made';
      } else if (f.kind === 'orphan') {
        if (!o.removeOrphans) {
          f.left = 'orphans are removed only with --yes (or when confirmed at the prompt)';
          continue;
        }
        const id = Buffer.from(f.ckaId!, 'hex');
        // Checked again under the write lock: never destroy what a version or an intent names.
        const named = immediate(ctx.db, 'checking an orphan', () => ctx.db.prepare('SELECT 1 FROM versions WHERE cka_id = ? UNION ALL SELECT 1 FROM intents WHERE cka_id = ?').get(id, id) !== undefined);
        if (named) {
          f.left = 'the ledger names it now (an operation finished meanwhile): left in place';
          continue;
        }
        const n = destroyObjects(ctx, id);
        f.repaired = `destroyed ${n} orphan object${n === 1 ? '' : 's'}`;
      } else if (f.kind === 'missing-object') {
        f.left = 'the key material is gone from the token; restore the token from its backup (kmsctl cannot recreate a key)';
      } else if (f.kind === 'duplicate-id') {
        f.left = 'kmsctl will not guess which object is real; remove the impostor with the token\'s tools after checking it';
      } else {
        f.left = 'another kmsctl is still working on it; run doctor again when it has finished';
      }
    } catch (e) {
      f.left = `repair failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return findings;
}
