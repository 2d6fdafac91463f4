import type { Handler } from '../result.js';
import { show } from '../../keys/query.js';
import { formatDuration } from '../../duration.js';
import { table } from '../table.js';
import { daysLeft } from '../../keys/lifecycle.js';

export const run: Handler = async (rt, [ref]) => {
  const token = await rt.openToken();
  const k = show(rt.ledgerCtx(), ref, token);
  const head = [
    `${k.alias}  ${k.id}`,
    `spec ${k.spec} (${k.purpose})  state ${k.state}  primary v${k.primaryVersion}`,
    `created ${k.createdAt}  last rotated ${k.lastRotatedAt}`,
    `rotation period ${k.rotationPeriodSeconds ? formatDuration(k.rotationPeriodSeconds) : 'none'}  deletion window ${k.deletionWindowSeconds ? formatDuration(k.deletionWindowSeconds) : 'default (30d)'}`,
    ...(k.destroyAfter ? [`pending deletion: destroyed after ${k.destroyAfter} (${daysLeft(k.destroyAfter, rt.now())} days left; undo with kmsctl restore ${k.alias})`] : []),
    ...(k.description ? [`description: ${k.description}`] : []),
    ...(Object.keys(k.labels).length ? [`labels: ${Object.entries(k.labels).map(([a, b]) => `${a}=${b}`).join(' ')}`] : []),
  ];
  const flag = (b: boolean | undefined) => (b === undefined ? '-' : b ? 'yes' : 'no');
  const rows = k.versions.map((v) => {
    const obj = v.token?.find((t) => t.class !== 'public');
    const where = !v.token ? '-' : v.token.every((t) => t.present) ? 'present' : 'MISSING';
    return [`v${v.version}${v.primary ? '*' : ''}`, v.state === 'pending-destruction' && v.destroyAfter ? `${v.state} until ${v.destroyAfter.slice(0, 10)}` : v.state, v.useCount, v.lastUsedAt ? `${v.lastUsedAt.slice(0, 19)}Z ${v.lastUsedBy}` : '-', where, flag(obj?.local), flag(obj?.neverExtractable), flag(obj?.alwaysSensitive)];
  });
  const text = `${head.join('\n')}\n\n${table(['VERSION', 'STATE', 'USES', 'LAST USED', 'TOKEN', 'LOCAL', 'NEVER-EXTR', 'ALWAYS-SENS'], rows)}`;
  return { data: { key: { ...k, daysLeft: daysLeft(k.destroyAfter, rt.now()) } }, text };
};
