// The encryption context: key=value pairs bound to a blob through the AAD. The canonical encoding is a
// frozen contract (every blob ever written depends on it): sort by the UTF-8 bytes of the key, then
// u16 count, and for each entry u16 key length, key, u16 value length, value; all big-endian.

import { hash } from 'node:crypto';
import { badData, usage } from '../errors.js';
import { FINGERPRINT_LEN, type BlobHeader } from './format.js';

export type EncryptionContext = Record<string, string>;

export const MAX_CONTEXT_ENTRIES = 64;
export const MAX_CONTEXT_KEY_BYTES = 128;
export const MAX_CONTEXT_VALUE_BYTES = 1024;

/** Parses command-line "key=value" pairs; the value may contain '=' and may be empty. */
export function parseContextArgs(pairs: string[]): EncryptionContext {
  const entries = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 0) {
      throw usage(`context entry ${quoteKey(pair)} has no '=': write it as key=value`, {
        reason: 'context-missing-equals',
      });
    }
    const key = pair.slice(0, eq);
    if (key.length === 0) {
      throw usage('context entry has an empty key: write it as key=value', { reason: 'context-empty-key' });
    }
    if (entries.has(key)) {
      throw usage(`context key ${quoteKey(key)} is given more than once: keep one value per key`, {
        reason: 'context-duplicate-key',
      });
    }
    entries.set(key, pair.slice(eq + 1));
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary entry.
  const ctx = Object.fromEntries(entries);
  encodeContext(ctx);
  return ctx;
}

export function encodeContext(ctx: EncryptionContext): Buffer {
  const entries = Object.entries(ctx);
  if (entries.length > MAX_CONTEXT_ENTRIES) {
    throw usage(`encryption context has ${entries.length} entries; at most ${MAX_CONTEXT_ENTRIES} are allowed`, {
      reason: 'context-too-many-entries',
    });
  }
  const encoded = entries.map(([key, value]) => {
    if (typeof value !== 'string') {
      throw usage(`context value for key ${quoteKey(key)} is not a string`, { reason: 'context-bad-value' });
    }
    const k = utf8(key, `context key ${quoteKey(key)}`);
    const v = utf8(value, `context value for key ${quoteKey(key)}`);
    if (k.length === 0) {
      throw usage('context has an empty key; keys are 1 to 128 bytes', { reason: 'context-empty-key' });
    }
    if (k.length > MAX_CONTEXT_KEY_BYTES) {
      throw usage(
        `context key ${quoteKey(key)} is ${k.length} bytes of UTF-8; at most ${MAX_CONTEXT_KEY_BYTES} are allowed`,
        { reason: 'context-key-too-long' },
      );
    }
    if (v.length > MAX_CONTEXT_VALUE_BYTES) {
      throw usage(
        `context value for key ${quoteKey(key)} is ${v.length} bytes of UTF-8; at most ${MAX_CONTEXT_VALUE_BYTES} are allowed`,
        { reason: 'context-value-too-long' },
      );
    }
    return { k, v };
  });
  // Byte order of the UTF-8 keys, not JavaScript's UTF-16 order: the two differ above U+FFFF.
  encoded.sort((a, b) => Buffer.compare(a.k, b.k));

  const size = 2 + encoded.reduce((n, e) => n + 4 + e.k.length + e.v.length, 0);
  const out = Buffer.alloc(size);
  let at = out.writeUInt16BE(encoded.length, 0);
  for (const { k, v } of encoded) {
    at = out.writeUInt16BE(k.length, at);
    at += k.copy(out, at);
    at = out.writeUInt16BE(v.length, at);
    at += v.copy(out, at);
  }
  return out;
}

/** First 8 bytes of SHA-256 over the canonical encoding: lets a decrypt name a wrong context before GCM fails. */
export function contextFingerprint(ctx: EncryptionContext): Buffer {
  return hash('sha256', encodeContext(ctx), 'buffer').subarray(0, FINGERPRINT_LEN);
}

/** Fails with reason 'context-mismatch' when ctx is not the context the blob was wrapped with. */
export function assertContextMatches(header: Pick<BlobHeader, 'contextFingerprint'>, ctx: EncryptionContext): void {
  if (!contextFingerprint(ctx).equals(header.contextFingerprint)) {
    throw badData('encryption context does not match the one this blob was wrapped with', {
      reason: 'context-mismatch',
      hint: 'pass exactly the key=value context pairs that were given when the key was wrapped',
    });
  }
}

function utf8(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  // A lone surrogate would silently become U+FFFD, so two different strings could share one encoding.
  if (b.toString('utf8') !== s) {
    throw usage(`${what} is not valid Unicode text (it contains a lone surrogate)`, { reason: 'context-not-utf8' });
  }
  return b;
}

/** Quotes a key for a message, shortened so that one bad argument cannot flood the terminal. */
function quoteKey(key: string): string {
  const shown = key.length > 40 ? `${key.slice(0, 40)}...` : key;
  return JSON.stringify(shown);
}
