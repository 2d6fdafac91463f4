import type { Db } from '../ledger/db.js';
import { getMeta } from '../ledger/records.js';
import { configError, type KmsError } from '../errors.js';

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

/** A word as a shell would need it typed. */
function sh(word: string): string {
  return /^[A-Za-z0-9._\/:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The refusal when no module is configured but the ledger was bound through one (kmsctl init --module):
 * it names that token and module, and how to select them again.
 */
export function boundToModule(b: Binding): KmsError {
  return configError(
    `this ledger is bound to token "${b.label}" (serial ${b.serial}) through the PKCS#11 module ${b.module}, not to an embedded token: ` +
      `pass --module ${sh(b.module)} (or set KMSCTL_MODULE) and --token ${sh(b.label)} (or KMSCTL_TOKEN) to use it`,
    { reason: 'token-mismatch', hint: 'or use another --home for a ledger of its own' },
  );
}
