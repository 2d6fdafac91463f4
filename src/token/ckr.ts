import { KmsError, InternalError, type ErrorCode } from '../errors.js';

// One table from PKCS#11 return values to kmsctl errors. pkcs11js throws an Error whose message is the CKR name.
const TABLE: Record<string, { code: ErrorCode; message: string; hint?: string }> = {
  CKR_PIN_INCORRECT: { code: 'denied', message: 'the token refused the PIN', hint: 'check KMSCTL_PIN or the --pin-file contents' },
  CKR_PIN_INVALID: { code: 'denied', message: 'the token refused the PIN (invalid characters or length)' },
  CKR_PIN_LEN_RANGE: { code: 'denied', message: 'the token refused the PIN (wrong length)' },
  CKR_PIN_LOCKED: { code: 'denied', message: 'the token has locked the user PIN after too many wrong attempts', hint: 'the token\'s security officer must unlock it' },
  CKR_PIN_EXPIRED: { code: 'denied', message: 'the token says the user PIN has expired' },
  CKR_USER_PIN_NOT_INITIALIZED: { code: 'config', message: 'the token has no user PIN set', hint: 'initialise the user PIN with the token\'s own tools' },
  CKR_KEY_FUNCTION_NOT_PERMITTED: { code: 'denied', message: 'the token does not permit this operation with this key' },
  CKR_KEY_TYPE_INCONSISTENT: { code: 'denied', message: 'the token says this key cannot be used with this mechanism' },
  CKR_ACTION_PROHIBITED: { code: 'denied', message: 'the token prohibits this action' },
  CKR_TOKEN_NOT_PRESENT: { code: 'unavailable', message: 'the token is not present' },
  CKR_TOKEN_NOT_RECOGNIZED: { code: 'unavailable', message: 'the token is not recognised by the module' },
  CKR_DEVICE_ERROR: { code: 'unavailable', message: 'the token reported a device error' },
  CKR_DEVICE_REMOVED: { code: 'unavailable', message: 'the token was removed during the operation' },
  CKR_DEVICE_MEMORY: { code: 'unavailable', message: 'the token is out of memory' },
  CKR_SLOT_ID_INVALID: { code: 'unavailable', message: 'the token\'s slot disappeared' },
  CKR_SESSION_COUNT: { code: 'temporary', message: 'the token has no free sessions', hint: 'retry when other jobs finish' },
  CKR_SESSION_HANDLE_INVALID: { code: 'unavailable', message: 'the token session was closed underneath kmsctl' },
  CKR_SESSION_CLOSED: { code: 'unavailable', message: 'the token session was closed underneath kmsctl' },
  CKR_MECHANISM_INVALID: { code: 'unavailable', message: 'the token does not support this mechanism' },
  CKR_TOKEN_WRITE_PROTECTED: { code: 'denied', message: 'the token is write-protected' },
  CKR_USER_NOT_LOGGED_IN: { code: 'denied', message: 'the token needs a login for this operation' },
  CKR_ENCRYPTED_DATA_INVALID: { code: 'bad-data', message: 'the token could not authenticate the ciphertext' },
  CKR_ENCRYPTED_DATA_LEN_RANGE: { code: 'bad-data', message: 'the ciphertext has a length the token rejects' },
  CKR_DATA_LEN_RANGE: { code: 'bad-data', message: 'the input has a length the token rejects' },
  CKR_SIGNATURE_INVALID: { code: 'check-failed', message: 'the signature does not verify' },
  CKR_SIGNATURE_LEN_RANGE: { code: 'check-failed', message: 'the signature has the wrong length' },
  // SoftHSM answers CKR_GENERAL_ERROR when its file store is caught mid-write by another process.
  CKR_GENERAL_ERROR: { code: 'temporary', message: 'the token reported a general error (with SoftHSM: another process was writing to its store)', hint: 'retry the command; if it persists, run kmsctl doctor' },
  CKR_CRYPTOKI_NOT_INITIALIZED: { code: 'internal', message: 'the PKCS#11 module was used before it was initialised' },
};

export function ckrName(e: unknown): string | undefined {
  const m = e instanceof Error ? e.message : undefined;
  return m && /^CKR_[A-Z0-9_]+$/.test(m) ? m : undefined;
}

/** Turns whatever pkcs11js threw into a KmsError (or an InternalError for CKR values that mean a bug). */
export function fromPkcs11(e: unknown, doing: string): Error {
  if (e instanceof KmsError || e instanceof InternalError) return e;
  const name = ckrName(e);
  if (!name) return new InternalError(`${doing}: ${e instanceof Error ? e.message : String(e)}`, e);
  const row = TABLE[name];
  if (!row || row.code === 'internal') return new InternalError(`${doing}: the token returned ${name}`, e);
  return new KmsError(row.code, `${doing}: ${row.message} (${name})`, { hint: row.hint, cause: e, reason: name });
}

export const CKR_TABLE = TABLE;
