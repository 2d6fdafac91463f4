import { P as pkcs11js } from './pkcs11.js';
import type { Spec } from '../keys/specs.js';

// pkcs11js 2.1.7 exports no Ed25519 constants, though SoftHSM 2.6.1 implements them (PKCS#11 3.0 values).
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;

// DER OIDs for CKA_EC_PARAMS. SoftHSM also accepts the printable string "edwards25519"; the OID is the portable form.
export const EC_PARAMS: Partial<Record<Spec, Buffer>> = {
  'ec-p256': Buffer.from('06082a8648ce3d030107', 'hex'), // prime256v1
  'ec-p384': Buffer.from('06052b81040022', 'hex'), // secp384r1
  ed25519: Buffer.from('06032b6570', 'hex'), // 1.3.101.112
};

interface MechNeed {
  mech: number;
  name: string;
  /** Key size the mechanism must support, in the unit the token reports (bits for RSA). */
  size?: number;
}

const P = pkcs11js;

/** What a spec needs from the token: the generation mechanism and the mechanisms its operations use. */
export function mechanismsFor(spec: Spec): MechNeed[] {
  switch (spec) {
    case 'aes-256':
      return [
        { mech: P.CKM_AES_KEY_GEN, name: 'CKM_AES_KEY_GEN' },
        { mech: P.CKM_AES_GCM, name: 'CKM_AES_GCM' },
      ];
    case 'hmac-sha256':
      return [
        { mech: P.CKM_GENERIC_SECRET_KEY_GEN, name: 'CKM_GENERIC_SECRET_KEY_GEN' },
        { mech: P.CKM_SHA256_HMAC, name: 'CKM_SHA256_HMAC' },
      ];
    case 'ec-p256':
    case 'ec-p384':
      // SoftHSM has no CKM_ECDSA_SHA256: kmsctl hashes outside the token and signs the digest with CKM_ECDSA.
      return [
        { mech: P.CKM_EC_KEY_PAIR_GEN, name: 'CKM_EC_KEY_PAIR_GEN' },
        { mech: P.CKM_ECDSA, name: 'CKM_ECDSA' },
      ];
    case 'ed25519':
      return [
        { mech: CKM_EC_EDWARDS_KEY_PAIR_GEN, name: 'CKM_EC_EDWARDS_KEY_PAIR_GEN' },
        { mech: CKM_EDDSA, name: 'CKM_EDDSA' },
      ];
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096': {
      const bits = Number(spec.slice(4));
      return [
        { mech: P.CKM_RSA_PKCS_KEY_PAIR_GEN, name: 'CKM_RSA_PKCS_KEY_PAIR_GEN', size: bits },
        { mech: P.CKM_RSA_PKCS_PSS, name: 'CKM_RSA_PKCS_PSS' },
        { mech: P.CKM_RSA_PKCS, name: 'CKM_RSA_PKCS' },
      ];
    }
  }
}

export const HASH_MECH = { sha256: P.CKM_SHA256, sha384: P.CKM_SHA384, sha512: P.CKM_SHA512 } as const;
export const MGF_OF = { sha256: P.CKG_MGF1_SHA256, sha384: P.CKG_MGF1_SHA384, sha512: P.CKG_MGF1_SHA512 } as const;
