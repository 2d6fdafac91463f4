import { existsSync } from 'node:fs';
import { openLedger, immediate, ledgerPath, type Db } from '../ledger/db.js';
import { setMeta } from '../ledger/records.js';
import { readBinding, type Binding } from './binding.js';

export { readBinding, type Binding } from './binding.js';
import { configError } from '../errors.js';
import { embeddedExists, embeddedPaths, ensureEmbeddedToken, readEmbeddedPin, EMBEDDED_LABEL } from '../token/embedded.js';
import { Token, type TokenInfo } from '../token/token.js';
import type { TokenSelector } from '../token/uri.js';

/** Binds a ledger to a token once; a second init against the same token changes nothing. */
function bind(db: Db, info: TokenInfo, module: string, now: Date): { bound: boolean } {
  return immediate(db, 'binding the ledger to the token', () => {
    const b = readBinding(db);
    if (b) {
      if (b.serial !== info.serial) {
        throw configError(`this ledger is bound to token "${b.label}" (serial ${b.serial}), not "${info.label}" (serial ${info.serial})`, { reason: 'token-mismatch', hint: 'use another --home for another token' });
      }
      return { bound: false };
    }
    setMeta(db, 'token_serial', info.serial);
    setMeta(db, 'token_label', info.label);
    setMeta(db, 'token_module', module);
    setMeta(db, 'bound_at', now.toISOString());
    return { bound: true };
  });
}

export interface InitResult {
  home: string;
  token: TokenInfo;
  embedded: boolean;
  tokenCreated: boolean;
  ledgerBound: boolean;
  modulePath: string;
}

/**
 * Before init makes anything: a ledger already bound elsewhere is refused here, not after an embedded
 * token was made that it can never use (and that would be left behind). Returns the open ledger, if any.
 */
function checkExistingLedger(home: string): { db: Db; binding: Binding | undefined } | undefined {
  if (!existsSync(ledgerPath(home))) return undefined;
  const db = openLedger(home);
  try {
    const b = readBinding(db);
    if (b && b.module !== 'embedded') {
      throw configError(
        `the ledger in ${home} is bound to token "${b.label}" (serial ${b.serial}) through the PKCS#11 module ${b.module}; ` +
          'init without --module would make an embedded token this ledger cannot use, so nothing was made',
        { reason: 'token-mismatch', hint: `kmsctl init --module ${b.module} --token ${b.label} checks that binding; use another --home for an embedded token` },
      );
    }
    if (b && !embeddedExists(home)) {
      throw configError(
        `the ledger in ${home} is bound to the embedded token "${b.label}" (serial ${b.serial}), which is not in ${embeddedPaths(home).dir}; ` +
          'a new token would not be that one, so nothing was made',
        { reason: 'token-mismatch', hint: 'put the token directory back from its backup, or use another --home for a new ledger' },
      );
    }
    return { db, binding: b };
  } catch (e) {
    db.close();
    throw e;
  }
}

export function initEmbedded(home: string, now: Date): InitResult & { db: Db } {
  const existing = checkExistingLedger(home);
  let t: ReturnType<typeof ensureEmbeddedToken>;
  try {
    t = ensureEmbeddedToken(home, existing?.binding?.serial);
  } catch (e) {
    existing?.db.close();
    throw e;
  }
  const db = existing?.db ?? openLedger(home, { create: true });
  try {
    const { bound } = bind(db, t.info, 'embedded', now);
    return { db, home, token: t.info, embedded: true, tokenCreated: t.created, ledgerBound: bound, modulePath: t.modulePath };
  } catch (e) {
    db.close();
    throw e;
  }
}

/** With a real HSM, init only binds the ledger to the token (after a login proves the PIN). */
export function initExternal(home: string, modulePath: string, sel: TokenSelector, pin: string, now: Date): InitResult & { db: Db } {
  const token = Token.open(modulePath, sel);
  try {
    token.login(pin);
  } finally {
    token.close();
  }
  const db = openLedger(home, { create: true });
  try {
    const { bound } = bind(db, token.info, modulePath, now);
    return { db, home, token: token.info, embedded: false, tokenCreated: false, ledgerBound: bound, modulePath };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * A logged-in session on the token init just bound, for the steps that need one (the audit key); the
 * embedded token uses its own PIN file. The caller closes it.
 */
export function openInitSession(res: InitResult, pin?: string): Token {
  const token = Token.open(res.modulePath, res.embedded ? { label: EMBEDDED_LABEL, serial: res.token.serial } : { serial: res.token.serial });
  try {
    const p = pin ?? (res.embedded ? readEmbeddedPin(res.home) : undefined);
    if (p === undefined) throw configError(`no PIN for the embedded token in ${res.home}/softhsm`, { hint: 'run kmsctl init again' });
    token.login(p);
    return token;
  } catch (e) {
    token.close();
    throw e;
  }
}
