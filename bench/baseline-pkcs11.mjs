// The baseline for batch throughput: a plain pkcs11js loop doing the same token operations as
// `kmsctl sign --batch` (SHA-256 then CKM_ECDSA) and `kmsctl wrap --batch` (12-byte IV from the token,
// then CKM_AES_GCM over 32 bytes), with no ledger, audit or JSON. Prints one JSON line of rates.
// Usage: node bench/baseline-pkcs11.mjs MODULE TOKEN_LABEL SIGN_CKA_ID_HEX WRAP_CKA_ID_HEX ITEMS
// The PIN comes from KMSCTL_PIN; SOFTHSM2_CONF must point at the token's configuration.
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js');
const [modulePath, label, signId, wrapId, itemsArg] = process.argv.slice(2);
const items = Number(itemsArg);

const p = new pkcs11js.PKCS11();
p.load(modulePath);
p.C_Initialize();
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === label);
  const session = p.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
  p.C_Login(session, pkcs11js.CKU_USER, process.env.KMSCTL_PIN);
  const find = (cls, id) => {
    p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: cls }, { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
    const h = p.C_FindObjects(session, 1)[0];
    p.C_FindObjectsFinal(session);
    return h;
  };
  const priv = find(pkcs11js.CKO_PRIVATE_KEY, signId);
  const aes = find(pkcs11js.CKO_SECRET_KEY, wrapId);
  const messages = Array.from({ length: 256 }, () => randomBytes(64));
  const dek = randomBytes(32);

  let t0 = performance.now();
  for (let i = 0; i < items; i++) {
    const digest = createHash('sha256').update(messages[i & 255]).digest();
    p.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, priv);
    p.C_Sign(session, digest, Buffer.alloc(64));
  }
  const signRate = items / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  for (let i = 0; i < items; i++) {
    const iv = p.C_GenerateRandom(session, Buffer.alloc(12));
    p.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_GCM, parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: 96, aad: Buffer.alloc(64), tagBits: 128 } }, aes);
    p.C_Encrypt(session, dek, Buffer.alloc(48));
  }
  const wrapRate = items / ((performance.now() - t0) / 1000);
  p.C_CloseSession(session);
  process.stdout.write(`${JSON.stringify({ signPerSecond: Math.round(signRate), wrapPerSecond: Math.round(wrapRate) })}\n`);
} finally {
  p.C_Finalize();
}
