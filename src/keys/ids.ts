import { randomBytes } from 'node:crypto';
import { usage } from '../errors.js';
import { quote } from '../quote.js';

export function newKeyId(): string {
  return `k_${randomBytes(10).toString('hex')}`;
}

/** CKA_ID of one version: random, so no two versions (or ledgers sharing a token) collide. */
export function newCkaId(): Buffer {
  return randomBytes(16);
}

const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Aliases become CKA_LABEL "alias/vN", so no slash; "k_" is reserved for key ids. */
export function checkAlias(alias: string): string {
  if (!ALIAS.test(alias)) {
    throw usage(`invalid alias ${quote(alias)}: use 1-64 characters from A-Z a-z 0-9 . _ - starting with a letter or digit`);
  }
  if (alias.startsWith('k_')) throw usage(`invalid alias "${alias}": the prefix k_ is reserved for key ids`);
  return alias;
}

export function tokenLabel(alias: string, version: number): string {
  return `${alias}/v${version}`;
}
