import type { Db } from '../ledger/db.js';
import { getMeta } from '../ledger/records.js';

// Which token a ledger belongs to, read without loading any PKCS#11 code.

export interface Binding {
  serial: string;
  label: string;
  module: string; // 'embedded' or the module path
  boundAt: string;
}

export function readBinding(db: Db): Binding | undefined {
  const serial = getMeta(db, 'token_serial');
  if (serial === undefined) return undefined;
  return { serial, label: getMeta(db, 'token_label') ?? '', module: getMeta(db, 'token_module') ?? '', boundAt: getMeta(db, 'bound_at') ?? '' };
}
