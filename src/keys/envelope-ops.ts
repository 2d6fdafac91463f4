import { randomFillSync } from 'node:crypto';
import { aadFor, assertContextMatches, contextFingerprint, encodeBlob, encodeHeader, readBlobInput, MAX_PLAINTEXT, MIN_PLAINTEXT, IV_LEN, TAG_LEN, type EncryptionContext, type WrappedBlob } from '../envelope/index.js';
import { badData, usage } from '../errors.js';
import { findKey, getVersion, type KeyRow, type VersionRow } from '../ledger/records.js';
import type { Handle } from '../token/token.js';
import { keyForUse, requireEnabled, requirePurpose, requireVersionEnabled } from './resolve.js';
import type { AuditScope, KeyCtx } from './context.js';

export interface Wrapped {
  blob: Buffer;
  keyId: string;
  alias: string;
  version: number;
}

export const DATAKEY_SIZES = [16, 24, 32, 64] as const;

// GCM IVs are random 96-bit values from the OS CSPRNG (as the AWS Encryption SDK does), drawn 256 at
// a time: an IV need not be secret, only never repeated under a key, and a round trip to the token for
// each one would cost a batch a sixth of its speed. Data keys themselves come from the token's RNG.
const IV_POOL = 256;
let ivPool = Buffer.alloc(0);
let ivNext = 0;
function nextIv(): Buffer {
  if (ivNext >= ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafe(IV_LEN * IV_POOL));
    ivNext = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivNext, ivNext + IV_LEN));
  ivNext += IV_LEN;
  return iv;
}

function checkPlaintextSize(n: number): void {
  if (n < MIN_PLAINTEXT || n > MAX_PLAINTEXT) {
    throw usage(`a data key must be ${MIN_PLAINTEXT} to ${MAX_PLAINTEXT} bytes; this input is ${n} bytes`, { reason: 'bad-plaintext-size' });
  }
}

/**
 * The wrapping side of one key version, resolved once: batch callers keep it and call wrapWith per item,
 * so the key is looked up on the token once, not per item.
 */
export interface WrapKey {
  key: KeyRow;
  ver: VersionRow;
  handle: Handle;
}

export function openWrapKey(ctx: KeyCtx, scope: AuditScope, ref: string, op: 'wrap' | 'datakey' = 'wrap'): WrapKey {
  const { key, ver } = keyForUse(ctx.db, ref, 'wrap', op, ctx.now(), scope);
  const handle = ctx.token.findOne('secret', ver.cka_id, `${key.alias} v${ver.version}`);
  return { key, ver, handle };
}

export function wrapWith(ctx: KeyCtx, wk: WrapKey, plaintext: Buffer, context: EncryptionContext): Wrapped {
  checkPlaintextSize(plaintext.length);
  const iv = nextIv();
  const header = encodeHeader({ keyId: wk.key.id, keyVersion: wk.ver.version, iv, contextFingerprint: contextFingerprint(context), ciphertextLength: plaintext.length + TAG_LEN });
  const ciphertext = ctx.token.gcmEncrypt(wk.handle, iv, aadFor(header, context), plaintext);
  return { blob: encodeBlob(header, ciphertext), keyId: wk.key.id, alias: wk.key.alias, version: wk.ver.version };
}

export function wrap(ctx: KeyCtx, scope: AuditScope, ref: string, plaintext: Buffer, context: EncryptionContext): Wrapped {
  checkPlaintextSize(plaintext.length);
  const wk = openWrapKey(ctx, scope, ref);
  scope.details.bytes = plaintext.length;
  scope.details.contextKeys = Object.keys(context).sort();
  const out = wrapWith(ctx, wk, plaintext, context);
  scope.uses.push({ keyId: wk.key.id, version: wk.ver.version, count: 1 });
  return out;
}

/** Finds the key and version a blob names; a key this ledger never had makes the blob foreign (bad data). */
export function blobKey(ctx: KeyCtx, scope: AuditScope, blob: WrappedBlob, op: string): WrapKey {
  scope.keyId = blob.keyId;
  scope.version = blob.keyVersion;
  const key = findKey(ctx.db, blob.keyId);
  if (!key || key.id !== blob.keyId) {
    throw badData(`this blob was wrapped by key ${blob.keyId}, which this ledger does not know (a blob from another ledger or token?)`, { reason: 'foreign-blob' });
  }
  scope.alias = key.alias;
  scope.authorize?.(key);
  requirePurpose(key, 'wrap', op);
  const ver = getVersion(ctx.db, key.id, blob.keyVersion);
  if (!ver) throw badData(`this blob names version ${blob.keyVersion} of ${key.alias}, which never existed`, { reason: 'foreign-blob' });
  requireEnabled(key, op, ctx.now());
  requireVersionEnabled(key, ver, op, ctx.now());
  return { key, ver, handle: ctx.token.findOne('secret', ver.cka_id, `${key.alias} v${ver.version}`) };
}

export function unwrapWith(ctx: KeyCtx, wk: WrapKey, blob: WrappedBlob, context: EncryptionContext): Buffer {
  assertContextMatches(blob, context);
  return ctx.token.gcmDecrypt(wk.handle, blob.iv, aadFor(blob.headerBytes, context), blob.ciphertext);
}

export interface Unwrapped {
  plaintext: Buffer;
  keyId: string;
  alias: string;
  version: number;
}

export function unwrap(ctx: KeyCtx, scope: AuditScope, input: Buffer, context: EncryptionContext): Unwrapped {
  const blob = readBlobInput(input);
  const wk = blobKey(ctx, scope, blob, 'unwrap');
  scope.details.contextKeys = Object.keys(context).sort();
  const plaintext = unwrapWith(ctx, wk, blob, context);
  scope.uses.push({ keyId: wk.key.id, version: wk.ver.version, count: 1 });
  return { plaintext, keyId: wk.key.id, alias: wk.key.alias, version: wk.ver.version };
}

export function datakey(ctx: KeyCtx, scope: AuditScope, ref: string, bytes: number, context: EncryptionContext): Wrapped & { plaintext: Buffer } {
  if (!(DATAKEY_SIZES as readonly number[]).includes(bytes)) throw usage(`--bytes must be one of ${DATAKEY_SIZES.join(', ')}`);
  const wk = openWrapKey(ctx, scope, ref, 'datakey');
  scope.details.bytes = bytes;
  scope.details.contextKeys = Object.keys(context).sort();
  const plaintext = ctx.token.random(bytes);
  const out = wrapWith(ctx, wk, plaintext, context);
  scope.uses.push({ keyId: wk.key.id, version: wk.ver.version, count: 1 });
  return { ...out, plaintext };
}

/** Re-encrypts under the key's primary version; the plaintext stays inside this function. */
export function rewrap(ctx: KeyCtx, scope: AuditScope, input: Buffer, context: EncryptionContext): Wrapped & { fromVersion: number } {
  const blob = readBlobInput(input);
  const from = blobKey(ctx, scope, blob, 'rewrap');
  const plaintext = unwrapWith(ctx, from, blob, context);
  try {
    const to = from.ver.version === from.key.primary_version ? from : openWrapKey(ctx, scope, from.key.id);
    scope.version = to.ver.version;
    scope.details.fromVersion = from.ver.version;
    const out = wrapWith(ctx, to, plaintext, context);
    scope.uses.push({ keyId: from.key.id, version: from.ver.version, count: 1 });
    if (to !== from) scope.uses.push({ keyId: to.key.id, version: to.ver.version, count: 1 });
    return { ...out, fromVersion: from.ver.version };
  } finally {
    plaintext.fill(0);
  }
}
