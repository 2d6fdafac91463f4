import { existsSync } from 'node:fs';
import { unavailable } from '../errors.js';

// Where distributions put SoftHSM2's PKCS#11 library.
export const SOFTHSM_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so', // Debian, Ubuntu
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so', // Fedora, RHEL
  '/usr/lib/pkcs11/libsofthsm2.so', // Arch
  '/usr/local/lib/softhsm/libsofthsm2.so', // source builds
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
  '/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so',
];

export function findSoftHsm(): string | undefined {
  return SOFTHSM_PATHS.find((p) => existsSync(p));
}

export function requireSoftHsm(): string {
  const found = findSoftHsm();
  if (!found) {
    throw unavailable('SoftHSM2 is not installed: no libsofthsm2.so at its usual paths', {
      hint: 'install it with: apt-get install softhsm2 (or pass --module PATH to use another PKCS#11 library)',
    });
  }
  return found;
}

export function requireModuleFile(path: string): string {
  if (!existsSync(path)) {
    throw unavailable(`PKCS#11 module not found: ${path}`, { hint: 'check --module / KMSCTL_MODULE' });
  }
  return path;
}
