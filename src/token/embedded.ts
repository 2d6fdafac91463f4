import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync, fsyncSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { P as pkcs11js } from './pkcs11.js';
import { configError } from '../errors.js';
import { fromPkcs11 } from './ckr.js';
import { requireSoftHsm } from './module.js';
import { Token, type TokenInfo } from './token.js';

// The embedded default: a SoftHSM2 token of kmsctl's own under KMSCTL_HOME/softhsm, for development
// and demos. Its PINs sit in 0600 files beside it, which is exactly why it is not for production keys.

export const EMBEDDED_LABEL = 'kmsctl';

export function embeddedPaths(home: string) {
  const dir = join(home, 'softhsm');
  return { dir, conf: join(dir, 'softhsm2.conf'), tokens: join(dir, 'tokens'), userPin: join(dir, 'user.pin'), soPin: join(dir, 'so.pin') };
}

export function embeddedExists(home: string): boolean {
  return existsSync(embeddedPaths(home).conf);
}

/** Points SoftHSM at the embedded token directory; must run before the module is initialised. */
export function activateEmbedded(home: string): string {
  const p = embeddedPaths(home);
  if (!existsSync(p.conf)) {
    throw configError(`no embedded token under ${p.dir}`, { hint: 'run kmsctl init (or configure a PKCS#11 module with --module / KMSCTL_MODULE)', reason: 'no-embedded-token' });
  }
  process.env.SOFTHSM2_CONF = p.conf;
  return requireSoftHsm();
}

function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, path);
}

function readOrMakePin(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').split('\n')[0];
  const pin = randomBytes(18).toString('base64url');
  writeSecretFile(path, `${pin}\n`);
  return pin;
}

export function readEmbeddedPin(home: string): string | undefined {
  const p = embeddedPaths(home).userPin;
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n')[0] : undefined;
}

/**
 * Creates (once) the embedded SoftHSM config, token directory and a token labelled "kmsctl" with random
 * PINs. Idempotent: when the token exists it is left as it is. Returns the token's identity. With
 * `boundSerial` (the ledger is bound already), a missing token is refused rather than made anew: a new
 * token would have another serial, and the ledger would refuse it.
 */
export function ensureEmbeddedToken(home: string, boundSerial?: string): { info: TokenInfo; created: boolean; modulePath: string } {
  const p = embeddedPaths(home);
  try {
    mkdirSync(p.tokens, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw configError(`cannot make the embedded token directory ${p.tokens} (${(e as { code?: string }).code ?? String(e)})`, { hint: 'point --home / KMSCTL_HOME at a directory you can write' });
  }
  if (!existsSync(p.conf)) {
    writeSecretFile(p.conf, `# SoftHSM2 configuration of kmsctl's embedded development token\ndirectories.tokendir = ${p.tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  }
  // PINs are written before the token exists, so a kill between the two never leaves a token nobody can open.
  const soPin = readOrMakePin(p.soPin);
  const userPin = readOrMakePin(p.userPin);
  const modulePath = activateEmbedded(home);
  const lib = Token.loadModule(modulePath);
  const P = pkcs11js;
  try {
    const tokens = Token.listTokens(lib);
    const existing = tokens.filter((t) => t.initialized && t.info.label === EMBEDDED_LABEL);
    if (existing.length === 1) return { info: existing[0].info, created: false, modulePath };
    if (existing.length > 1) throw configError(`the embedded token directory ${p.tokens} holds ${existing.length} tokens labelled "${EMBEDDED_LABEL}"`);
    if (boundSerial !== undefined) {
      throw configError(`the ledger in ${home} is bound to the embedded token with serial ${boundSerial}, which is not in ${p.tokens}: a new token would not be that one, so none was made`, {
        reason: 'token-mismatch',
        hint: 'put the token directory back from its backup, or use another --home for a new ledger',
      });
    }
    const free = tokens.find((t) => !t.initialized);
    if (!free) throw configError(`SoftHSM offers no free slot in ${p.tokens}`);
    try {
      // pkcs11js pads a short label with NULs; PKCS#11 wants blanks.
      lib.C_InitToken(free.slot, soPin, EMBEDDED_LABEL.padEnd(32, ' '));
      const after = Token.listTokens(lib).filter((t) => t.initialized && t.info.label === EMBEDDED_LABEL);
      // SoftHSM re-numbers slots after C_InitToken: find the new token again by label.
      const made = after[0];
      const s = lib.C_OpenSession(made.slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
      try {
        lib.C_Login(s, P.CKU_SO, soPin);
        lib.C_InitPIN(s, userPin);
        lib.C_Logout(s);
      } finally {
        lib.C_CloseSession(s);
      }
      return { info: made.info, created: true, modulePath };
    } catch (e) {
      throw fromPkcs11(e, 'initialising the embedded token');
    }
  } finally {
    try { lib.C_Finalize(); } catch { /* nothing left to release */ }
  }
}
