import { P as pkcs11js, type GcmParams, type Mechanism, type PKCS11, type Template } from './pkcs11.js';
import { KmsError, InternalError, unavailable, configError, notFound, badData, temporary } from '../errors.js';
import { fromPkcs11, ckrName } from './ckr.js';
import { normaliseLabel, type TokenSelector } from './uri.js';
import { mechanismsFor, EC_PARAMS, CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN } from './mechanisms.js';
import { rsaBits, type Spec, PURPOSE } from '../keys/specs.js';

const P = pkcs11js;
export type Handle = Buffer;

export interface TokenInfo {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
}

export interface GenerateOptions {
  id: Buffer;
  label: string;
  exportable?: boolean;
}

export interface GeneratedKey {
  /** Public key material as the token reports it, for the ledger: EC/EdDSA point or RSA modulus and exponent. */
  ecPoint?: Buffer;
  modulus?: Buffer;
  publicExponent?: Buffer;
}

export type ObjectClass = 'secret' | 'private' | 'public';
const CLASS = { secret: P.CKO_SECRET_KEY, private: P.CKO_PRIVATE_KEY, public: P.CKO_PUBLIC_KEY } as const;

export interface ObjectSummary {
  handle: Handle;
  cls: ObjectClass;
  id: Buffer;
  label: string;
}

// Usage flags every key template states explicitly, true only where the purpose needs them; the
// names are what show and doctor print. Each class has only the flags PKCS#11 defines for it.
export const USAGE_FLAGS: Record<ObjectClass, Array<[number, string]>> = {
  secret: [[P.CKA_ENCRYPT, 'encrypt'], [P.CKA_DECRYPT, 'decrypt'], [P.CKA_WRAP, 'wrap'], [P.CKA_UNWRAP, 'unwrap'], [P.CKA_SIGN, 'sign'], [P.CKA_VERIFY, 'verify'], [P.CKA_DERIVE, 'derive']],
  private: [[P.CKA_SIGN, 'sign'], [P.CKA_DECRYPT, 'decrypt'], [P.CKA_UNWRAP, 'unwrap'], [P.CKA_DERIVE, 'derive'], [P.CKA_SIGN_RECOVER, 'sign-recover']],
  public: [[P.CKA_VERIFY, 'verify'], [P.CKA_ENCRYPT, 'encrypt'], [P.CKA_WRAP, 'wrap'], [P.CKA_DERIVE, 'derive'], [P.CKA_VERIFY_RECOVER, 'verify-recover']],
};
const USAGE_SECRET = USAGE_FLAGS.secret.map(([t]) => t);
const USAGE_PRIVATE = USAGE_FLAGS.private.map(([t]) => t);
const USAGE_PUBLIC = USAGE_FLAGS.public.map(([t]) => t);

const OPEN_ATTEMPTS = 8;

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs an open of the token until it is not spoiled by a concurrent writer: a few tries apart, each
 * from a fresh C_Initialize (fn's own business), then "temporary" (75) if it persists.
 */
function retryingTransient<T>(fn: (lastTry: boolean) => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return fn(attempt >= OPEN_ATTEMPTS);
    } catch (e) {
      if (!isTransientOpen(e)) throw e;
      if (attempt >= OPEN_ATTEMPTS) {
        throw temporary(`the token could not be read consistently after ${attempt} tries (another process may be writing to it): ${e instanceof Error ? e.message : String(e)}`, { cause: e, hint: 'retry the command' });
      }
      sleepMs(20 * attempt);
    }
  }
}

/** A read of the token that a concurrent writer can spoil: retried, never reported as a bug at once. */
function isTransientOpen(e: unknown): boolean {
  if (e instanceof KmsError) return e.reason === 'no-token-readable' || e.reason === 'CKR_GENERAL_ERROR';
  if (e instanceof InternalError) return /CKR_GENERAL_ERROR|CKR_DEVICE_ERROR/.test(e.message);
  return false;
}

function gcm(iv: Buffer, aad: Buffer): Mechanism {
  const parameter: GcmParams = { type: P.CK_PARAMS_GCM, iv, ivBits: iv.length * 8, aad, tagBits: 128 };
  return { mechanism: P.CKM_AES_GCM, parameter };
}

function flags(all: number[], on: number[]): Template {
  return all.map((type) => ({ type, value: on.includes(type) }));
}

/** The attribute templates of one key version, per spec: exported for the drift check and for tests. */
export interface KeyTemplates {
  secret?: Template;
  public?: Template;
  private?: Template;
}

export function templatesFor(spec: Spec, o: GenerateOptions): KeyTemplates {
  const base = [
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_ID, value: o.id },
    { type: P.CKA_LABEL, value: o.label },
  ];
  const secretBase = [
    ...base,
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: o.exportable === true },
  ];
  if (spec === 'aes-256') {
    return {
      secret: [...secretBase, { type: P.CKA_KEY_TYPE, value: P.CKK_AES }, { type: P.CKA_VALUE_LEN, value: 32 }, ...flags(USAGE_SECRET, [P.CKA_ENCRYPT, P.CKA_DECRYPT])],
    };
  }
  if (spec === 'hmac-sha256') {
    return {
      secret: [...secretBase, { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET }, { type: P.CKA_VALUE_LEN, value: 32 }, ...flags(USAGE_SECRET, [P.CKA_SIGN, P.CKA_VERIFY])],
    };
  }
  const keyType = spec === 'ed25519' ? CKK_EC_EDWARDS : spec.startsWith('ec-') ? P.CKK_EC : P.CKK_RSA;
  const pub: Template = [
    ...base,
    { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
    { type: P.CKA_KEY_TYPE, value: keyType },
    { type: P.CKA_PRIVATE, value: false },
    ...flags(USAGE_PUBLIC, [P.CKA_VERIFY]),
  ];
  const priv: Template = [
    ...base,
    { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
    { type: P.CKA_KEY_TYPE, value: keyType },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: o.exportable === true },
    ...flags(USAGE_PRIVATE, [P.CKA_SIGN]),
  ];
  const bits = rsaBits(spec);
  if (bits) {
    pub.push({ type: P.CKA_MODULUS_BITS, value: bits }, { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
  } else {
    pub.push({ type: P.CKA_EC_PARAMS, value: EC_PARAMS[spec]! });
  }
  return { public: pub, private: priv };
}

/**
 * The PKCS#11 adapter: one module, one token, one read-write session. Synchronous: the CLI does one
 * operation (or one batch) per process. Every find has its FindObjectsFinal; close() always finalises.
 */
export class Token {
  readonly info: TokenInfo;
  private readonly lib: PKCS11;
  private slot: Handle;
  private session: Handle | null = null;
  private loggedIn = false;
  /** Kept for reopen() only, in memory, for as long as the session lives. */
  private pin: string | undefined;
  private mechs: Set<number> | null = null;

  private constructor(lib: PKCS11, slot: Handle, info: TokenInfo) {
    this.lib = lib;
    this.slot = slot;
    this.info = info;
  }

  /** Loads the module and initialises it. The caller owns the returned library and must finalise it. */
  static loadModule(modulePath: string): PKCS11 {
    const lib = new P.PKCS11();
    try {
      lib.load(modulePath);
    } catch (e) {
      throw unavailable(`cannot load the PKCS#11 module ${modulePath}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    try {
      lib.C_Initialize();
    } catch (e) {
      if (ckrName(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
        try { lib.close(); } catch { /* the load failed half way; nothing more to release */ }
        throw unavailable(`the PKCS#11 module ${modulePath} failed to initialise (${ckrName(e) ?? String(e)})`, { cause: e });
      }
    }
    return lib;
  }

  static listTokens(lib: PKCS11): Array<{ slot: Handle; info: TokenInfo; initialized: boolean }> {
    try {
      return lib.C_GetSlotList(true).map((slot) => {
        const t = lib.C_GetTokenInfo(slot);
        return {
          slot,
          initialized: (t.flags & P.CKF_TOKEN_INITIALIZED) !== 0,
          info: { label: normaliseLabel(t.label), serial: normaliseLabel(t.serialNumber).trim(), manufacturer: normaliseLabel(t.manufacturerID), model: normaliseLabel(t.model) },
        };
      });
    } catch (e) {
      throw fromPkcs11(e, 'listing tokens');
    }
  }

  /** Opens the one token the selector names; never picks by slot number, never takes "the first" of several. */
  static open(modulePath: string, sel: TokenSelector): Token {
    // SoftHSM's file store can be caught mid-write by another process (several CI jobs on one token):
    // the token then reads as absent or C_GetTokenInfo fails with CKR_GENERAL_ERROR for a moment. Such
    // a read is retried from a fresh C_Initialize; if it persists it is "temporary" (75), not a bug.
    return retryingTransient((lastTry) => Token.openOnce(modulePath, sel, lastTry));
  }

  private static openOnce(modulePath: string, sel: TokenSelector, lastTry = false): Token {
    const lib = Token.loadModule(modulePath);
    try {
      const all = Token.listTokens(lib).filter((t) => t.initialized);
      // SoftHSM shows a token file caught half-written as a token with no serial (and often no label):
      // read again. Only on the last try is a blank serial taken as the token's own.
      if (!lastTry && all.some((t) => t.info.serial === '')) {
        throw unavailable(`a token in ${modulePath} read with no serial number (another process may be writing to it)`, { reason: 'no-token-readable' });
      }
      const hits = all.filter((t) => (sel.label === undefined || t.info.label === sel.label) && (sel.serial === undefined || t.info.serial === sel.serial));
      const what = [sel.label !== undefined ? `label "${sel.label}"` : '', sel.serial !== undefined ? `serial ${sel.serial}` : ''].filter(Boolean).join(' and ');
      if (hits.length === 0) {
        const seen = all.map((t) => `"${t.info.label}" (serial ${t.info.serial})`).join(', ') || 'none';
        // With no readable token at all, a concurrent writer may be hiding it: that is worth a retry.
        throw unavailable(`no token with ${what} in ${modulePath}; tokens present: ${seen}`, { reason: all.length === 0 ? 'no-token-readable' : 'token-not-found' });
      }
      if (hits.length > 1) {
        throw configError(`${hits.length} tokens match ${what}; select one with --token-serial`);
      }
      const tok = new Token(lib, hits[0].slot, hits[0].info);
      tok.session = lib.C_OpenSession(hits[0].slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
      return tok;
    } catch (e) {
      try { lib.C_Finalize(); } catch { /* already failing; the first error is the one to report */ }
      throw e instanceof KmsError || e instanceof InternalError ? e : fromPkcs11(e, 'opening the token');
    }
  }

  private get s(): Handle {
    if (!this.session) throw new InternalError('token session used after close');
    return this.session;
  }

  login(pin: string): void {
    if (this.loggedIn) return;
    for (let attempt = 1; ; attempt++) {
      try {
        this.lib.C_Login(this.s, P.CKU_USER, pin);
        break;
      } catch (e) {
        const name = ckrName(e);
        // Another session of this process may have logged in already: the login state is per application.
        if (name === 'CKR_USER_ALREADY_LOGGED_IN') break;
        // SoftHSM reads the token's PIN data from its file store; a concurrent writer can make that read
        // fail, or show a token file caught half-written as one with no user PIN, which this process
        // then keeps seeing until the library is initialised again.
        if ((name === 'CKR_GENERAL_ERROR' || name === 'CKR_USER_PIN_NOT_INITIALIZED') && attempt < OPEN_ATTEMPTS) {
          sleepMs(20 * attempt);
          if (name === 'CKR_USER_PIN_NOT_INITIALIZED') this.reinitialise();
          continue;
        }
        if (name === 'CKR_GENERAL_ERROR') throw temporary('logging in to the token failed repeatedly (CKR_GENERAL_ERROR; another process may be writing to it)', { cause: e, hint: 'retry the command' });
        throw fromPkcs11(e, 'logging in to the token');
      }
    }
    this.loggedIn = true;
    this.pin = pin;
  }

  /**
   * A SoftHSM that failed a write with CKR_GENERAL_ERROR, because another process was writing its file
   * store at that moment, keeps failing every write of this process until the library is initialised
   * again: so finalise, initialise, find this token again by its serial (slots renumber), open a new
   * session and log in again. Every object handle from before is void afterwards.
   */
  reopen(): void {
    const pin = this.pin;
    this.reinitialise();
    if (pin !== undefined) this.login(pin);
  }

  /** Finalise, initialise, find this token again by serial and open a new session (not logged in). */
  private reinitialise(): void {
    this.close();
    this.loggedIn = false;
    retryingTransient(() => {
      try {
        this.lib.C_Initialize();
        const hit = Token.listTokens(this.lib).find((t) => t.initialized && t.info.serial === this.info.serial && t.info.label === this.info.label);
        // (A token read half-written matches nothing here, so it is read again.)
        if (!hit) throw unavailable(`the token "${this.info.label}" (serial ${this.info.serial}) is no longer present`, { reason: 'no-token-readable' });
        this.slot = hit.slot;
        this.session = this.lib.C_OpenSession(hit.slot, P.CKF_RW_SESSION | P.CKF_SERIAL_SESSION);
      } catch (e) {
        try { this.lib.C_Finalize(); } catch { /* tried again from a fresh initialise */ }
        throw e instanceof KmsError || e instanceof InternalError ? e : fromPkcs11(e, 'opening the token again');
      }
    });
  }

  get isLoggedIn(): boolean {
    return this.loggedIn;
  }

  mechanisms(): Set<number> {
    if (!this.mechs) {
      try {
        this.mechs = new Set(this.lib.C_GetMechanismList(this.slot));
      } catch (e) {
        throw fromPkcs11(e, 'reading the mechanism list');
      }
    }
    return this.mechs;
  }

  /** Refuses a spec the token cannot do, naming the mechanism it lacks. */
  requireSpec(spec: Spec): void {
    const have = this.mechanisms();
    for (const need of mechanismsFor(spec)) {
      if (!have.has(need.mech)) {
        throw unavailable(`this token cannot do ${spec}: it lacks ${need.name} (0x${need.mech.toString(16)})`, { reason: 'mechanism-missing' });
      }
      if (need.size !== undefined) {
        const mi = this.lib.C_GetMechanismInfo(this.slot, need.mech);
        if (need.size < mi.minKeySize || need.size > mi.maxKeySize) {
          throw unavailable(`this token cannot do ${spec}: ${need.name} supports ${mi.minKeySize}..${mi.maxKeySize} bits`, { reason: 'mechanism-missing' });
        }
      }
    }
  }

  generate(spec: Spec, o: GenerateOptions): GeneratedKey {
    const t = templatesFor(spec, o);
    try {
      if (t.secret) {
        const mech = spec === 'aes-256' ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN;
        this.lib.C_GenerateKey(this.s, { mechanism: mech }, t.secret);
        return {};
      }
      const mech = spec === 'ed25519' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : spec.startsWith('ec-') ? P.CKM_EC_KEY_PAIR_GEN : P.CKM_RSA_PKCS_KEY_PAIR_GEN;
      const kp = this.lib.C_GenerateKeyPair(this.s, { mechanism: mech }, t.public!, t.private!);
      if (PURPOSE[spec] === 'sign' && spec.startsWith('rsa-')) {
        const [m, e] = this.lib.C_GetAttributeValue(this.s, kp.publicKey, [{ type: P.CKA_MODULUS }, { type: P.CKA_PUBLIC_EXPONENT }]);
        return { modulus: m.value as Buffer, publicExponent: e.value as Buffer };
      }
      const [pt] = this.lib.C_GetAttributeValue(this.s, kp.publicKey, [{ type: P.CKA_EC_POINT }]);
      return { ecPoint: pt.value as Buffer };
    } catch (e) {
      throw fromPkcs11(e, `generating the ${spec} key on the token`);
    }
  }

  /** Every object matching the template; FindObjectsFinal on every path. */
  find(template: Template): Handle[] {
    try {
      this.lib.C_FindObjectsInit(this.s, template);
    } catch (e) {
      throw fromPkcs11(e, 'searching the token');
    }
    try {
      const out: Handle[] = [];
      for (;;) {
        const batch = this.lib.C_FindObjects(this.s, 64);
        if (batch.length === 0) return out;
        out.push(...batch);
      }
    } catch (e) {
      throw fromPkcs11(e, 'searching the token');
    } finally {
      try { this.lib.C_FindObjectsFinal(this.s); } catch { /* the session is already in error */ }
    }
  }

  /** Exactly one object of this class and CKA_ID, or a typed error: more than one is an integrity problem. */
  findOne(cls: ObjectClass, id: Buffer, what: string): Handle {
    const hits = this.find([{ type: P.CKA_CLASS, value: CLASS[cls] }, { type: P.CKA_ID, value: id }]);
    if (hits.length === 0) {
      throw notFound(`the token has no ${cls} key object for ${what} (CKA_ID ${id.toString('hex')})`, { hint: 'run kmsctl doctor', reason: 'token-object-missing' });
    }
    if (hits.length > 1) {
      throw new KmsError('bad-data', `the token holds ${hits.length} ${cls} objects with the CKA_ID of ${what}: refusing to guess`, { hint: 'run kmsctl doctor', reason: 'duplicate-cka-id' });
    }
    return hits[0];
  }

  findAll(cls: ObjectClass, id: Buffer): Handle[] {
    return this.find([{ type: P.CKA_CLASS, value: CLASS[cls] }, { type: P.CKA_ID, value: id }]);
  }

  /** Every key object with a CKA_ID, for doctor. */
  listKeyObjects(): ObjectSummary[] {
    const out: ObjectSummary[] = [];
    for (const cls of ['secret', 'private', 'public'] as const) {
      for (const h of this.find([{ type: P.CKA_CLASS, value: CLASS[cls] }])) {
        const [id, label] = this.lib.C_GetAttributeValue(this.s, h, [{ type: P.CKA_ID }, { type: P.CKA_LABEL }]);
        out.push({ handle: h, cls, id: id.value as Buffer, label: (label.value as Buffer).toString('utf8') });
      }
    }
    return out;
  }

  attributes(h: Handle, types: number[]): Map<number, Buffer> {
    try {
      const res = this.lib.C_GetAttributeValue(this.s, h, types.map((type) => ({ type })));
      return new Map(res.map((a) => [a.type, a.value as Buffer]));
    } catch (e) {
      throw fromPkcs11(e, 'reading key attributes');
    }
  }

  /**
   * CK_ULONG attributes (CKA_KEY_TYPE, CKA_VALUE_LEN) as numbers, for doctor's check that an object is
   * of its version's kind. pkcs11js hands every attribute back as bytes: a CK_ULONG in the platform's
   * byte order, 8 bytes on the 64-bit little-endian hosts SoftHSM runs on here.
   */
  numberAttributes(h: Handle, types: number[]): Map<number, number> {
    const raw = this.attributes(h, types);
    const out = new Map<number, number>();
    for (const [t, b] of raw) {
      if (b.length === 8) out.set(t, Number(b.readBigUInt64LE()));
      else if (b.length === 4) out.set(t, b.readUInt32LE());
    }
    return out;
  }

  /** CKA_ID and CKA_LABEL of one object, read again right before doctor changes or destroys it. */
  identity(h: Handle): { id: Buffer; label: string } {
    const a = this.attributes(h, [P.CKA_ID, P.CKA_LABEL]);
    return { id: a.get(P.CKA_ID) ?? Buffer.alloc(0), label: (a.get(P.CKA_LABEL) ?? Buffer.alloc(0)).toString('utf8') };
  }

  /** Public key material of an existing public key object (doctor completes an interrupted create with it). */
  publicMaterial(h: Handle, spec: Spec): GeneratedKey {
    if (spec.startsWith('rsa-')) {
      const a = this.attributes(h, [P.CKA_MODULUS, P.CKA_PUBLIC_EXPONENT]);
      return { modulus: a.get(P.CKA_MODULUS), publicExponent: a.get(P.CKA_PUBLIC_EXPONENT) };
    }
    return { ecPoint: this.attributes(h, [P.CKA_EC_POINT]).get(P.CKA_EC_POINT) };
  }

  setAttributes(h: Handle, template: Template): void {
    try {
      this.lib.C_SetAttributeValue(this.s, h, template);
    } catch (e) {
      throw fromPkcs11(e, 'changing key attributes');
    }
  }

  gcmEncrypt(key: Handle, iv: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
    try {
      this.lib.C_EncryptInit(this.s, gcm(iv, aad), key);
      return Buffer.from(this.lib.C_Encrypt(this.s, plaintext, Buffer.alloc(plaintext.length + 16)));
    } catch (e) {
      throw fromPkcs11(e, 'encrypting on the token');
    }
  }

  gcmDecrypt(key: Handle, iv: Buffer, aad: Buffer, ciphertext: Buffer): Buffer {
    try {
      this.lib.C_DecryptInit(this.s, gcm(iv, aad), key);
    } catch (e) {
      throw fromPkcs11(e, 'decrypting on the token');
    }
    try {
      return Buffer.from(this.lib.C_Decrypt(this.s, ciphertext, Buffer.alloc(ciphertext.length)));
    } catch (e) {
      const name = ckrName(e);
      // SoftHSM 2.6.1 reports a failed GCM tag check as CKR_GENERAL_ERROR, others as CKR_ENCRYPTED_DATA_INVALID.
      if (name === 'CKR_GENERAL_ERROR' || name === 'CKR_ENCRYPTED_DATA_INVALID' || name === 'CKR_ENCRYPTED_DATA_LEN_RANGE') {
        throw badData('the blob failed authentication: it was altered, damaged, or made for another key', { reason: 'auth-failed', cause: e });
      }
      throw fromPkcs11(e, 'decrypting on the token');
    }
  }

  sign(key: Handle, mechanism: Mechanism, data: Buffer, maxLen: number): Buffer {
    try {
      this.lib.C_SignInit(this.s, mechanism, key);
      return Buffer.from(this.lib.C_Sign(this.s, data, Buffer.alloc(maxLen)));
    } catch (e) {
      throw fromPkcs11(e, 'signing on the token');
    }
  }

  /** C_Verify; false for CKR_SIGNATURE_INVALID / LEN_RANGE, typed errors otherwise. */
  verify(key: Handle, mechanism: Mechanism, data: Buffer, signature: Buffer): boolean {
    try {
      this.lib.C_VerifyInit(this.s, mechanism, key);
      return this.lib.C_Verify(this.s, data, signature);
    } catch (e) {
      const name = ckrName(e);
      if (name === 'CKR_SIGNATURE_INVALID' || name === 'CKR_SIGNATURE_LEN_RANGE') return false;
      throw fromPkcs11(e, 'verifying on the token');
    }
  }

  random(n: number): Buffer {
    try {
      return Buffer.from(this.lib.C_GenerateRandom(this.s, Buffer.alloc(n)));
    } catch (e) {
      throw fromPkcs11(e, 'drawing random bytes from the token');
    }
  }

  destroy(h: Handle): void {
    try {
      this.lib.C_DestroyObject(this.s, h);
    } catch (e) {
      throw fromPkcs11(e, 'destroying a token object');
    }
  }

  /** Closes the session and finalises the module; safe to call twice and on error paths. */
  close(): void {
    const s = this.session;
    this.session = null;
    if (s) {
      try { this.lib.C_CloseSession(s); } catch { /* finalising below releases it anyway */ }
    }
    try { this.lib.C_Finalize(); } catch { /* nothing left to release */ }
  }
}
