import { usage } from '../errors.js';
import { quote } from '../quote.js';

export interface TokenSelector {
  label?: string;
  serial?: string;
}

const MAX_LABEL_BYTES = 32; // CK_TOKEN_INFO.label is 32 bytes, blank padded

/** Labels compare with trailing blanks (and the NULs some libraries pad with) removed. */
export function normaliseLabel(raw: string): string {
  return raw.replace(/[\s\0]+$/u, '');
}

export function checkLabel(label: string): string {
  if (Buffer.byteLength(label, 'utf8') > MAX_LABEL_BYTES) {
    throw usage(`token label ${quote(label)} is over ${MAX_LABEL_BYTES} bytes of UTF-8`);
  }
  return normaliseLabel(label);
}

/** Token attributes of an RFC 7512 PKCS#11 URI; object and query attributes are accepted and ignored. */
export function parsePkcs11Uri(uri: string): TokenSelector {
  if (!uri.startsWith('pkcs11:')) throw usage(`not a PKCS#11 URI: ${uri} (expected pkcs11:token=LABEL;serial=SERIAL)`);
  const path = uri.slice('pkcs11:'.length).split('?')[0];
  const sel: TokenSelector = {};
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw usage(`malformed PKCS#11 URI attribute "${part}" in ${uri}`);
    const name = part.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw usage(`bad percent-encoding in PKCS#11 URI attribute "${name}"`);
    }
    if (name === 'token') sel.label = checkLabel(value);
    else if (name === 'serial') sel.serial = value.trim();
    else if (name === 'slot-id') throw usage('kmsctl selects tokens by label or serial, never by slot (slot numbers change)');
  }
  if (!sel.label && !sel.serial) throw usage(`PKCS#11 URI names no token: add token=LABEL or serial=SERIAL to ${uri}`);
  return sel;
}
