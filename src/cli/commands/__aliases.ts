import { existsSync } from 'node:fs';
import type { Handler } from '../result.js';
import { ledgerPath } from '../../ledger/db.js';

/** For shell completion: aliases of keys that are not destroyed; silent when there is no ledger yet. */
export const run: Handler = async (rt) => {
  if (!existsSync(ledgerPath(rt.config.home))) return { data: { aliases: [] }, text: '' };
  const rows = rt.ledger().prepare("SELECT alias FROM keys WHERE state != 'destroyed' ORDER BY alias").all() as Array<{ alias: string }>;
  const aliases = rows.map((r) => r.alias);
  return { data: { aliases }, text: aliases.join('\n') };
};
