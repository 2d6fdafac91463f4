import type { Handler } from '../result.js';
import { list } from '../../keys/query.js';
import { table } from '../table.js';

export const run: Handler = async (rt, _args, o) => {
  const keys = list(rt.ledgerCtx(), o.all === true);
  const text = keys.length === 0
    ? 'no keys yet: create one with kmsctl create ALIAS --spec aes-256'
    : table(['ALIAS', 'SPEC', 'STATE', 'PRIMARY', 'ID'], keys.map((k) => [k.alias, k.spec, k.state, `v${k.primaryVersion}`, k.id]));
  return { data: { keys }, text };
};
