// Vocabulary shared by the offline crypto helpers. SignSpec names the same specs as src/keys/specs.ts
// but only those that sign, so the helpers need no knowledge of wrapping or MAC keys.

export type SignSpec = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export type Digest = 'sha256' | 'sha384' | 'sha512';
export type Padding = 'pss' | 'pkcs1';
export type SigFormat = 'der' | 'raw';

export const SIGN_SPECS: readonly SignSpec[] = ['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
export const DIGESTS: readonly Digest[] = ['sha256', 'sha384', 'sha512'];

/** Output length in bytes; PSS uses it as the salt length too. */
export const DIGEST_BYTES: Record<Digest, number> = { sha256: 32, sha384: 48, sha512: 64 };
