// Builds the bytes around a data key wrapped on the token. The encoder applies the decoder's rules,
// so kmsctl never writes a blob it would refuse to read back.

import { InternalError, usage } from '../errors.js';
import { encodeContext, type EncryptionContext } from './context.js';
import {
  ALG_AES_256_GCM,
  FINGERPRINT_LEN,
  FIXED_PREFIX_LEN,
  FORMAT_VERSION,
  IV_LEN,
  KEY_ID_PATTERN,
  MAGIC,
  MAX_CIPHERTEXT,
  MAX_KEY_ID_LEN,
  MAX_KEY_VERSION,
  MAX_PLAINTEXT,
  MIN_CIPHERTEXT,
  MIN_PLAINTEXT,
  TAG_LEN,
  headerLength,
  type BlobHeader,
} from './format.js';

export function encodeHeader(h: BlobHeader): Buffer {
  if (h.keyId.length < 1 || h.keyId.length > MAX_KEY_ID_LEN || !KEY_ID_PATTERN.test(h.keyId)) {
    throw usage(`key id must be 1 to ${MAX_KEY_ID_LEN} characters of A-Z a-z 0-9 _ -`, { reason: 'bad-key-id' });
  }
  if (h.ciphertextLength < MIN_CIPHERTEXT || h.ciphertextLength > MAX_CIPHERTEXT || !Number.isInteger(h.ciphertextLength)) {
    const plain = h.ciphertextLength - TAG_LEN;
    throw usage(`a data key must be ${MIN_PLAINTEXT} to ${MAX_PLAINTEXT} bytes; this one is ${plain} bytes`, {
      reason: 'bad-plaintext-length',
    });
  }
  // The rest comes from the ledger and the token, not from the operator: a wrong value is a bug.
  if (!Number.isInteger(h.keyVersion) || h.keyVersion < 1 || h.keyVersion > MAX_KEY_VERSION) {
    throw new InternalError(`key version ${h.keyVersion} does not fit the blob header (1 .. ${MAX_KEY_VERSION})`);
  }
  if (h.iv.length !== IV_LEN) {
    throw new InternalError(`IV is ${h.iv.length} bytes; AES-256-GCM blobs use ${IV_LEN}`);
  }
  if (h.contextFingerprint.length !== FINGERPRINT_LEN) {
    throw new InternalError(`context fingerprint is ${h.contextFingerprint.length} bytes; expected ${FINGERPRINT_LEN}`);
  }

  const out = Buffer.alloc(headerLength(h.keyId.length));
  let at = MAGIC.copy(out, 0);
  at = out.writeUInt8(FORMAT_VERSION, at);
  at = out.writeUInt8(ALG_AES_256_GCM, at);
  at = out.writeUInt8(h.keyId.length, at);
  at += out.write(h.keyId, at, 'ascii');
  at = out.writeUInt32BE(h.keyVersion, at);
  at = out.writeUInt8(IV_LEN, at);
  at += h.iv.copy(out, at);
  at += h.contextFingerprint.copy(out, at);
  at = out.writeUInt32BE(h.ciphertextLength, at);
  if (at !== out.length) throw new InternalError(`blob header encoder wrote ${at} of ${out.length} bytes`);
  return out;
}

/** The GCM additional data: the whole header (N included), then the canonical context encoding. */
export function aadFor(headerBytes: Buffer, ctx: EncryptionContext): Buffer {
  checkHeaderBytes(headerBytes);
  return Buffer.concat([headerBytes, encodeContext(ctx)]);
}

/** ciphertext is ct||tag, exactly as long as the header's N. */
export function encodeBlob(headerBytes: Buffer, ciphertext: Buffer): Buffer {
  const n = checkHeaderBytes(headerBytes);
  if (ciphertext.length !== n) {
    throw new InternalError(`ciphertext is ${ciphertext.length} bytes but the header says ${n}`);
  }
  return Buffer.concat([headerBytes, ciphertext]);
}

/** Guards against passing something other than encodeHeader's output; returns the header's N. */
function checkHeaderBytes(headerBytes: Buffer): number {
  const ok =
    headerBytes.length > FIXED_PREFIX_LEN &&
    headerBytes.subarray(0, MAGIC.length).equals(MAGIC) &&
    headerBytes.length === headerLength(headerBytes[FIXED_PREFIX_LEN - 1]);
  if (!ok) throw new InternalError(`not a blob header (${headerBytes.length} bytes)`);
  return headerBytes.readUInt32BE(headerBytes.length - 4);
}
