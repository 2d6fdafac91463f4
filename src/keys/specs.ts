// The key specs kmsctl offers, what each is for and which token mechanisms it needs.

export const SPECS = ['aes-256', 'hmac-sha256', 'ec-p256', 'ec-p384', 'ed25519', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type Spec = (typeof SPECS)[number];
export type Purpose = 'wrap' | 'mac' | 'sign';

export const PURPOSE: Record<Spec, Purpose> = {
  'aes-256': 'wrap',
  'hmac-sha256': 'mac',
  'ec-p256': 'sign',
  'ec-p384': 'sign',
  ed25519: 'sign',
  'rsa-2048': 'sign',
  'rsa-3072': 'sign',
  'rsa-4096': 'sign',
};

/** A spec with its article, as it is read aloud: an aes-256, an ec-p256, an ed25519, an hmac-sha256, an rsa-2048. */
export function aSpec(spec: string): string {
  // "hmac" and "rsa" are spelt out (aitch-mac, ar-es-ay): an, as before a vowel.
  return `${/^([aeiou]|hmac|rsa)/i.test(spec) ? 'an' : 'a'} ${spec}`;
}

export function isSpec(s: string): s is Spec {
  return (SPECS as readonly string[]).includes(s);
}

export function isAsymmetric(spec: Spec): boolean {
  return PURPOSE[spec] === 'sign';
}

export function rsaBits(spec: Spec): number | null {
  const m = /^rsa-(\d+)$/.exec(spec);
  return m ? Number(m[1]) : null;
}
