import type { Handler } from '../result.js';
import { rotateKey } from '../../keys/rotate.js';

export const run: Handler = async (rt, [ref]) => {
  const ctx = await rt.keyCtx();
  const r = await rt.audited('rotate', (scope) => rotateKey(ctx, scope, ref));
  return { data: { keyId: r.key.id, alias: r.key.alias, version: r.version, previousPrimary: r.previous, primaryVersion: r.key.primary_version }, text: `rotated ${r.key.alias}: version ${r.version} is primary (was ${r.previous})` };
};
