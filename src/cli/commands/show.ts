import type { Handler } from '../result.js';
import { show } from '../../keys/query.js';
import { attributeReader } from '../../keys/provenance.js';
import { formatDuration } from '../../duration.js';
import { table } from '../table.js';
import { daysLeft } from '../../keys/lifecycle.js';
import { colours, paintState } from '../render.js';

/** A tombstone says it is destroyed; a pending key its deadline, and whether restore can still undo it. */
function deletionLines(k: { alias: string; state: string; destroyAfter: string | null }, left: number | null): string[] {
  if (k.state === 'destroyed') return [`destroyed${k.destroyAfter ? `: its deletion window ended ${k.destroyAfter}` : ''}; the tombstone keeps its alias and history`];
  if (!k.destroyAfter) return [];
  if (left !== null && left > 0) return [`pending deletion: destroyed after ${k.destroyAfter} (${left} day${left === 1 ? '' : 's'} left; undo with kmsctl restore ${k.alias})`];
  return [`pending deletion: its window ended ${k.destroyAfter}; kmsctl purge destroys it, and restore can no longer undo it`];
}

export const run: Handler = async (rt, [ref]) => {
  const token = await rt.openToken();
  const k = show(rt.ledgerCtx(), ref, attributeReader(token));
  const left = k.state === 'destroyed' ? null : daysLeft(k.destroyAfter, rt.now());
  const head = [
    `${k.alias}  ${k.id}`,
    `spec ${k.spec} (${k.purpose})  state ${paintState(colours(rt.flags), k.state)}  primary v${k.primaryVersion}`,
    `created ${k.createdAt}  last rotated ${k.lastRotatedAt}`,
    `rotation period ${k.rotationPeriodSeconds ? formatDuration(k.rotationPeriodSeconds) : 'none'}  deletion window ${k.deletionWindowSeconds ? formatDuration(k.deletionWindowSeconds) : 'default (30d)'}`,
    ...deletionLines(k, left),
    ...(k.description ? [`description: ${k.description}`] : []),
    ...(Object.keys(k.labels).length ? [`labels: ${Object.entries(k.labels).map(([a, b]) => `${a}=${b}`).join(' ')}`] : []),
    ...(k.unusedVersions.length ? [`unused version numbers (never reused): ${k.unusedVersions.map((u) => `v${u.version} ${u.why === 'rolled-back' ? `rolled back ${u.at}` : u.why === 'in-progress' ? `being made since ${u.at}` : 'rotation never completed'}`).join(', ')}`] : []),
  ];
  const c = colours(rt.flags);
  const rows = k.versions.map((v) => {
    const obj = v.token?.find((t) => t.class !== 'public');
    // Provenance: generated on the token (CKA_LOCAL), never extractable, always sensitive.
    const token = !v.token ? '-' : !v.token.every((t) => t.present) ? c.red('MISSING') : obj?.local && obj.neverExtractable && obj.alwaysSensitive && !obj.extractable ? 'generated, sealed' : c.yellow(`local=${obj?.local} never-extractable=${obj?.neverExtractable}`);
    const state = v.state === 'pending-destruction' && v.destroyAfter ? `pending until ${v.destroyAfter.slice(0, 10)}` : v.state;
    return [`v${v.version}${v.primary ? '*' : ''}`, paintState(c, v.state, state), v.useCount, v.lastUsedAt ? `${v.lastUsedAt.slice(0, 10)} ${v.lastUsedBy}` : '-', token];
  });
  const text = `${head.join('\n')}\n\n${table(['VERSION', 'STATE', 'USES', 'LAST USED', 'ON TOKEN'], rows)}`;
  return { data: { key: { ...k, daysLeft: left } }, text };
};
