// Wrapped-blob format v1: the constants and shapes shared by the encoder and the decoder.
// The byte layout is a frozen contract (docs/blob-format.md, test/fixtures/blob-vectors.json):
// a new layout gets a new FORMAT_VERSION and a new TEXT_PREFIX, never an edit here.

export const MAGIC = Buffer.from('KMSW', 'ascii');
export const FORMAT_VERSION = 0x01;
/** Versions this build can read; named in the 'unsupported-version' message. */
export const KNOWN_VERSIONS: readonly number[] = [FORMAT_VERSION];

/** AES-256-GCM with a 96-bit IV and a 128-bit tag. */
export const ALG_AES_256_GCM = 0x01;
export const IV_LEN = 12;
export const TAG_LEN = 16;

export const MIN_PLAINTEXT = 1;
export const MAX_PLAINTEXT = 4096;
export const MIN_CIPHERTEXT = MIN_PLAINTEXT + TAG_LEN;
export const MAX_CIPHERTEXT = MAX_PLAINTEXT + TAG_LEN;

export const MIN_KEY_ID_LEN = 1;
export const MAX_KEY_ID_LEN = 64;
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]+$/;
export const MAX_KEY_VERSION = 0xffff_ffff;

export const FINGERPRINT_LEN = 8;

/** magic(4) + version(1) + algorithm(1) + key id length(1). */
export const FIXED_PREFIX_LEN = 7;
/** Header bytes after the key id: key version(4) + IV length(1) + IV(12) + fingerprint(8) + N(4). */
export const HEADER_TAIL_LEN = 4 + 1 + IV_LEN + FINGERPRINT_LEN + 4;

export const headerLength = (keyIdLength: number): number => FIXED_PREFIX_LEN + keyIdLength + HEADER_TAIL_LEN;
/** The smallest well-formed blob: a 1-byte key id and a 1-byte data key. */
export const MIN_BLOB_LEN = headerLength(MIN_KEY_ID_LEN) + MIN_CIPHERTEXT;

export const TEXT_PREFIX = 'kmsctl:v1:';
/** Common to every text version, so that a newer text blob is told apart from a non-blob. */
export const TEXT_FAMILY_PREFIX = 'kmsctl:';

export interface BlobHeader {
  keyId: string;
  keyVersion: number;
  iv: Buffer;
  contextFingerprint: Buffer;
  /** N: ciphertext plus the 16-byte tag. */
  ciphertextLength: number;
}

export interface WrappedBlob extends BlobHeader {
  /** Ciphertext followed by the 16-byte GCM tag. */
  ciphertext: Buffer;
  /** Bytes [0, 36+L): the whole header including N, the first part of the AAD. */
  headerBytes: Buffer;
}
