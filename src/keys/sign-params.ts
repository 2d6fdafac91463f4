import { defaultDigest, DIGESTS, type Digest, type Padding, type SigFormat, type SignSpec } from '../crypto/index.js';
import { usage } from '../errors.js';

export interface SignOptions {
  digest?: string;
  padding?: string;
  format?: string;
}

/** Options normalised for one spec; options that mean nothing for it are refused, never ignored. */
export interface SignParams {
  digest: Digest | null;
  padding?: Padding;
  format?: SigFormat;
}

export function signParams(spec: SignSpec, o: SignOptions): SignParams {
  if (o.digest !== undefined && !(DIGESTS as readonly string[]).includes(o.digest)) throw usage(`--digest must be one of ${DIGESTS.join(', ')}`);
  if (o.padding !== undefined && o.padding !== 'pss' && o.padding !== 'pkcs1') throw usage('--padding must be pss or pkcs1');
  if (o.format !== undefined && o.format !== 'der' && o.format !== 'raw') throw usage('--format must be der or raw');
  if (spec === 'ed25519') {
    if (o.digest !== undefined) throw usage('ed25519 signs the message itself: drop --digest');
    if (o.padding !== undefined) throw usage('--padding is for RSA keys');
    if (o.format === 'der') throw usage('an Ed25519 signature has no DER form: drop --format');
    return { digest: null };
  }
  const digest = (o.digest as Digest | undefined) ?? defaultDigest(spec)!;
  if (spec.startsWith('ec-')) {
    if (o.padding !== undefined) throw usage('--padding is for RSA keys');
    return { digest, format: (o.format as SigFormat | undefined) ?? 'der' };
  }
  if (o.format !== undefined) throw usage('--format is for ECDSA keys (RSA signatures have one form)');
  return { digest, padding: (o.padding as Padding | undefined) ?? 'pss' };
}
