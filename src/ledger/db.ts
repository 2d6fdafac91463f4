import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { configError, temporary, InternalError, KmsError } from '../errors.js';
import { MIGRATIONS } from './migrations/index.js';

export type Db = Database.Database;

// The addon's path, resolved once: better-sqlite3's own lookup (the bindings package) probes a dozen
// candidate paths with stat calls on every start.
let addonPath: string | undefined;
function sqliteAddon(): string {
  addonPath ??= createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
  return addonPath;
}

export const LEDGER_FILE = 'ledger.db';
const DEFAULT_BUSY_MS = 5000;

export function ledgerPath(home: string): string {
  return join(home, LEDGER_FILE);
}

export interface OpenOptions {
  /** Create the file (only init does). */
  create?: boolean;
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/** A read-only connection to a ledger another connection of this process has opened (and migrated). */
export function openForScan(path: string): Db {
  return new Database(path, { readonly: true, fileMustExist: true, timeout: DEFAULT_BUSY_MS, nativeBinding: sqliteAddon() });
}

/** Opens ledger.db with WAL, a busy timeout and foreign keys, applying pending migrations. */
export function openLedger(home: string, o: OpenOptions = {}): Db {
  const path = ledgerPath(home);
  if (!o.create && !existsSync(path)) {
    throw configError(`no ledger at ${path}`, { hint: 'run kmsctl init first, or point --home / KMSCTL_HOME at your ledger', reason: 'no-ledger' });
  }
  if (o.create) mkdirSync(home, { recursive: true, mode: 0o700 });
  const fresh = o.create === true && !existsSync(path);
  let db: Db;
  try {
    db = new Database(path, { fileMustExist: !o.create, timeout: o.busyTimeoutMs ?? DEFAULT_BUSY_MS, nativeBinding: sqliteAddon() });
    // The ledger names keys and holds the audit trail: readable by its owner only (SQLite gives its
    // -wal and -shm files the same mode).
    if (fresh) chmodSync(path, 0o600);
  } catch (e) {
    throw configError(`cannot open the ledger ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    migrate(db, path);
  } catch (e) {
    db.close();
    throw translateSqlite(e, 'opening the ledger');
  }
  return db;
}

function migrate(db: Db, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw configError(`the ledger ${path} is from a newer kmsctl (schema ${current}, this one knows ${MIGRATIONS.length})`, { hint: 'upgrade kmsctl', reason: 'ledger-too-new' });
  }
  if (current === MIGRATIONS.length) return;
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated in the meantime.
    const now = db.pragma('user_version', { simple: true }) as number;
    for (let v = now; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}

/** SQLITE_BUSY past the timeout is "safe to retry"; anything else from SQLite is a bug or a broken file. */
export function translateSqlite(e: unknown, doing: string): Error {
  if (e instanceof KmsError || e instanceof InternalError) return e;
  const code = (e as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return temporary(`the ledger is busy (${doing}); another kmsctl holds it past the timeout`, { hint: 'retry the command', cause: e, reason: code });
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) {
    return configError(`the ledger cannot be opened for writing (${code}): check the permissions of KMSCTL_HOME and ledger.db`, { cause: e, reason: code });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return configError(`the ledger file is damaged or not a kmsctl ledger (${code})`, { cause: e, reason: code });
  }
  return new InternalError(`${doing}: ${e instanceof Error ? e.message : String(e)}`, e);
}

/** Runs fn in BEGIN IMMEDIATE: every read-then-write of the ledger goes through here. */
export function immediate<T>(db: Db, doing: string, fn: () => T): T {
  try {
    return db.transaction(fn).immediate();
  } catch (e) {
    throw translateSqlite(e, doing);
  }
}
