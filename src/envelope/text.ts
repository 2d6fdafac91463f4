// The text form, for pasting into config files and terminals: "kmsctl:v1:" + unpadded base64url of the
// whole binary blob. Decoding is strict (one spelling per blob), so a damaged copy is reported here
// rather than surfacing later as an opaque authentication failure on the token.

import { badData } from '../errors.js';
import { decodeBlob } from './decode.js';
import { MAGIC, TEXT_FAMILY_PREFIX, TEXT_PREFIX, type WrappedBlob } from './format.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64URL_CHAR = /[A-Za-z0-9_-]/;
const OTHER_VERSION = /^kmsctl:(v[^:\s]{0,16}):/;
/** What "KMSW" followed by version 1 looks like in base64url: a blob whose prefix was cut off. */
const BARE_BLOB_START = Buffer.concat([MAGIC, Buffer.from([0x01])]).toString('base64url').slice(0, 6);

export function toText(bin: Buffer): string {
  return TEXT_PREFIX + bin.toString('base64url');
}

export function fromText(s: string): Buffer {
  const text = trimAscii(s);
  if (!text.startsWith(TEXT_PREFIX)) {
    const other = OTHER_VERSION.exec(text);
    if (other) {
      throw badData(`text blob version ${JSON.stringify(other[1])} is not supported; this kmsctl reads ${TEXT_PREFIX}`, {
        reason: 'unsupported-version',
        hint: 'upgrade kmsctl',
      });
    }
    throw notABlob(text);
  }
  const body = text.slice(TEXT_PREFIX.length);
  if (!BASE64URL.test(body)) throw damaged(body);
  const bin = Buffer.from(body, 'base64url');
  // Buffer's decoder skips what it cannot use (a dangling last character, non-zero spare bits);
  // re-encoding shows whether anything was skipped.
  if (bin.length === 0 || bin.toString('base64url') !== body) {
    throw badData('text blob is damaged: its base64url body has a wrong length or a wrong last character', {
      reason: 'base64-damaged',
      hint: 'copy the whole blob again',
    });
  }
  return bin;
}

/** Reads a blob from a file or stdin, in either form. */
export function readBlobInput(input: Buffer): WrappedBlob {
  let start = 0;
  while (start < input.length && isAsciiSpace(input[start])) start++;
  if (start === input.length) {
    throw badData('input is empty: expected a kmsctl blob', { reason: 'empty' });
  }
  const rest = input.subarray(start);
  if (startsWith(rest, TEXT_FAMILY_PREFIX)) {
    // latin1 maps each byte to one character, so a stray non-ASCII byte is reported, not replaced.
    return decodeBlob(fromText(rest.toString('latin1')));
  }
  if (startsWith(rest, MAGIC)) {
    // Binary is taken as is to the last byte: a trailing byte that looks like a newline may be the tag's.
    return decodeBlob(rest);
  }
  throw notABlob(rest.subarray(0, 64).toString('latin1'));
}

function notABlob(head: string) {
  const bare = head.startsWith(BARE_BLOB_START);
  return badData(`not a kmsctl blob: expected text starting with ${TEXT_PREFIX} or binary starting with KMSW`, {
    reason: 'not-a-blob',
    hint: bare ? `this looks like a blob's base64url without its prefix: put ${TEXT_PREFIX} in front` : undefined,
  });
}

function damaged(body: string) {
  let pos = 0;
  while (pos < body.length && BASE64URL_CHAR.test(body[pos])) pos++;
  const c = body[pos];
  const code = c.charCodeAt(0);
  const shown = code > 0x20 && code < 0x7f ? `'${c}'` : `0x${code.toString(16).padStart(2, '0')}`;
  let hint = 'copy the whole blob again';
  if (isAsciiSpace(code)) hint = 'the blob was split across lines or spaces: join it back into one line';
  else if (c === '+' || c === '/' || c === '=') hint = 'kmsctl text uses base64url without padding, not standard base64';
  return badData(
    `text blob is damaged: character ${shown} at position ${TEXT_PREFIX.length + pos} is not base64url`,
    { reason: 'base64-damaged', hint },
  );
}

function trimAscii(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isAsciiSpace(s.charCodeAt(a))) a++;
  while (b > a && isAsciiSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

function startsWith(buf: Buffer, prefix: string | Buffer): boolean {
  const p = typeof prefix === 'string' ? Buffer.from(prefix, 'ascii') : prefix;
  return buf.length >= p.length && buf.subarray(0, p.length).equals(p);
}
