export type { Digest, Padding, SigFormat, SignSpec } from './types.js';
export { DIGEST_BYTES, DIGESTS, SIGN_SPECS } from './types.js';
export { pemFromSpki, spkiFromEcPoint, spkiFromEd25519, spkiFromRsa, unwrapEcPoint } from './public-key.js';
export { defaultDigest, digestInfo, ecdsaDerToRaw, ecdsaRawToDer, hashMessage } from './signature.js';
export { verifyOffline, type VerifyParams } from './verify.js';
