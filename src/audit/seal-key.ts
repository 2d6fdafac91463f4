import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Sealer } from './append.js';

// Sealing with the seal key that the token derived (seal.ts): HMAC-SHA256 in memory.

export function sealerOf(key: KeyObject): Sealer {
  const seal = (hash: Buffer) => createHmac('sha256', key).update(hash).digest();
  return {
    seal,
    check: (hash, s) => s.length === 32 && timingSafeEqual(seal(hash), s),
    key,
  };
}

/** Takes the derived bytes into a KeyObject (which spares each HMAC a copy of the raw key) and wipes them. */
export function sealerFromKey(sealKey: Buffer): Sealer {
  const key = createSecretKey(sealKey);
  sealKey.fill(0);
  return sealerOf(key);
}
