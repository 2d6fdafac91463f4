// Parses a binary blob. Each read is preceded by a check of what it needs, and each check fails with
// its own stable reason (tests are named after them) and one line that says what is wrong.

import { badData } from '../errors.js';
import {
  ALG_AES_256_GCM,
  FINGERPRINT_LEN,
  FIXED_PREFIX_LEN,
  IV_LEN,
  KNOWN_VERSIONS,
  MAGIC,
  MAX_CIPHERTEXT,
  MAX_KEY_ID_LEN,
  MIN_BLOB_LEN,
  MIN_CIPHERTEXT,
  MIN_KEY_ID_LEN,
  MIN_PLAINTEXT,
  MAX_PLAINTEXT,
  TAG_LEN,
  TEXT_FAMILY_PREFIX,
  headerLength,
  type WrappedBlob,
} from './format.js';

const TEXT_FAMILY = Buffer.from(TEXT_FAMILY_PREFIX, 'ascii');
const KEY_ID_BYTE = /^[A-Za-z0-9_-]$/;

export function decodeBlob(buf: Buffer): WrappedBlob {
  if (buf.length >= TEXT_FAMILY.length && buf.subarray(0, TEXT_FAMILY.length).equals(TEXT_FAMILY)) {
    throw badData('this is a text blob (kmsctl:...), not a binary one', {
      reason: 'looks-like-text',
      hint: 'read it as text, or convert it to binary first',
    });
  }
  if (buf.length < FIXED_PREFIX_LEN) {
    throw badData(`blob is ${buf.length} bytes, too short to be a kmsctl blob (the smallest is ${MIN_BLOB_LEN})`, {
      reason: 'too-short',
    });
  }

  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badData(`not a kmsctl blob: it starts with 0x${buf.subarray(0, MAGIC.length).toString('hex')}, not "KMSW"`, {
      reason: 'bad-magic',
    });
  }
  const version = buf[4];
  if (!KNOWN_VERSIONS.includes(version)) {
    throw badData(
      `blob format version ${version} is not supported; this kmsctl reads version ${KNOWN_VERSIONS.join(', ')}`,
      { reason: 'unsupported-version', hint: version > Math.max(...KNOWN_VERSIONS) ? 'upgrade kmsctl' : undefined },
    );
  }
  const algorithm = buf[5];
  if (algorithm !== ALG_AES_256_GCM) {
    throw badData(
      `blob algorithm 0x${hex8(algorithm)} is unknown; this kmsctl knows 0x${hex8(ALG_AES_256_GCM)} (AES-256-GCM)`,
      { reason: 'unknown-algorithm' },
    );
  }
  const keyIdLen = buf[6];
  if (keyIdLen < MIN_KEY_ID_LEN || keyIdLen > MAX_KEY_ID_LEN) {
    throw badData(`blob key id length is ${keyIdLen}; it must be ${MIN_KEY_ID_LEN} to ${MAX_KEY_ID_LEN}`, {
      reason: 'bad-key-id',
    });
  }

  const headerLen = headerLength(keyIdLen);
  // Before each read below: the field must lie inside the buffer. Until N is read, only a lower bound
  // of the missing bytes is known: the rest of the header plus the smallest ciphertext, and the
  // message adds those two up in front of the reader.
  const need = (end: number): void => {
    if (buf.length < end) {
      const fromHeader = headerLen - buf.length;
      throw badData(
        `blob is truncated: ${buf.length} bytes, but its header alone is ${headerLen} bytes and at least ${MIN_CIPHERTEXT} bytes of ciphertext follow it` +
          ` (at least ${fromHeader + MIN_CIPHERTEXT} bytes missing: ${fromHeader} of the header, ${MIN_CIPHERTEXT} or more of the ciphertext)`,
        { reason: 'truncated', hint: 'copy the whole blob again' },
      );
    }
  };

  const keyIdAt = FIXED_PREFIX_LEN;
  const keyVersionAt = keyIdAt + keyIdLen;
  const ivLenAt = keyVersionAt + 4;
  const ivAt = ivLenAt + 1;
  const fpAt = ivAt + IV_LEN;
  const nAt = fpAt + FINGERPRINT_LEN;

  need(keyVersionAt);
  const keyIdBytes = buf.subarray(keyIdAt, keyVersionAt);
  const badAt = keyIdBytes.findIndex((b) => !KEY_ID_BYTE.test(String.fromCharCode(b)));
  if (badAt >= 0) {
    throw badData(
      `blob key id has byte 0x${hex8(keyIdBytes[badAt])} at position ${badAt}; key ids use only A-Z a-z 0-9 _ -`,
      { reason: 'bad-key-id' },
    );
  }
  const keyId = keyIdBytes.toString('ascii');

  need(ivLenAt);
  const keyVersion = buf.readUInt32BE(keyVersionAt);
  if (keyVersion < 1) {
    throw badData('blob key version is 0; versions start at 1', { reason: 'bad-key-version' });
  }

  need(ivAt);
  const ivLen = buf[ivLenAt];
  if (ivLen !== IV_LEN) {
    throw badData(`blob IV length is ${ivLen}; AES-256-GCM blobs use ${IV_LEN}`, { reason: 'bad-iv-length' });
  }

  need(headerLen);
  const ciphertextLength = buf.readUInt32BE(nAt);
  if (ciphertextLength < MIN_CIPHERTEXT || ciphertextLength > MAX_CIPHERTEXT) {
    throw badData(
      `blob ciphertext length is ${ciphertextLength}; it must be ${MIN_CIPHERTEXT} to ${MAX_CIPHERTEXT}` +
        ` (a ${MIN_PLAINTEXT} to ${MAX_PLAINTEXT} byte data key plus a ${TAG_LEN}-byte tag)`,
      { reason: 'bad-ciphertext-length' },
    );
  }

  const total = headerLen + ciphertextLength;
  if (buf.length < total) {
    throw badData(
      `blob is truncated: its header says ${total} bytes, got ${buf.length} (${total - buf.length} bytes missing)`,
      { reason: 'truncated', hint: 'copy the whole blob again' },
    );
  }
  if (buf.length > total) {
    throw badData(
      `blob has ${buf.length - total} unexpected bytes after its end (${total} bytes expected, got ${buf.length})`,
      { reason: 'trailing-bytes', hint: 'a binary blob must be stored exactly, with no newline or padding added' },
    );
  }

  // Copies, so the result does not pin or alias the caller's buffer.
  return {
    keyId,
    keyVersion,
    iv: Buffer.from(buf.subarray(ivAt, fpAt)),
    contextFingerprint: Buffer.from(buf.subarray(fpAt, nAt)),
    ciphertextLength,
    ciphertext: Buffer.from(buf.subarray(headerLen, total)),
    headerBytes: Buffer.from(buf.subarray(0, headerLen)),
  };
}

const hex8 = (n: number): string => n.toString(16).padStart(2, '0');
