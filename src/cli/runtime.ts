import { resolveConfig, type Config, type GlobalFlags } from '../config.js';
import { openLedger, type Db } from '../ledger/db.js';
import { boundToModule, readBinding } from '../keys/binding.js';
import { findKey } from '../ledger/records.js';
import { requireModuleFile } from '../token/module.js';
import { resolvePin } from '../token/pin.js';
import type { Token } from '../token/token.js';
import { configError, KmsError } from '../errors.js';
import { appendAudit, osActor, type Actor, type Sealer } from '../audit/append.js';
import { audited } from '../audit/recorder.js';
import type { AuditKey } from '../audit/seal.js';
import { newScope, type AuditScope, type KeyCtx, type LedgerCtx } from '../keys/context.js';
import { hasActiveRules } from '../policy/active.js';
import type { Gate } from '../policy/gate.js';
import type { TokenSelector } from '../token/uri.js';
import { promptSecret } from './prompt.js';

export interface RuntimeFlags extends GlobalFlags {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

/**
 * Everything one CLI invocation opens, opened lazily and closed in close(): the ledger, the token
 * session. Commands ask for what they need; `verify` and `list` never load the PKCS#11 module.
 */
export class Runtime {
  readonly flags: RuntimeFlags;
  readonly config: Config;
  readonly who: Actor;
  readonly now = () => new Date();
  private db: Db | null = null;
  private token: Token | null = null;
  private gate: Gate | null | undefined;
  private auditKey: AuditKey | null = null;
  private ensureAuditKey: typeof import('../audit/seal.js').ensureAuditKey | undefined;

  private constructor(flags: RuntimeFlags, config: Config) {
    this.flags = flags;
    this.config = config;
    this.who = osActor(config.actorName);
  }

  static async create(flags: RuntimeFlags): Promise<Runtime> {
    return new Runtime(flags, await resolveConfig(flags));
  }

  get interactive(): boolean {
    return this.config.interactive && !this.flags.json;
  }

  ledger(): Db {
    if (!this.db) this.db = openLedger(this.config.home);
    return this.db;
  }

  ledgerCtx(): LedgerCtx {
    return { db: this.ledger(), now: this.now };
  }

  /** The bound token, logged in: the selector defaults to the ledger's binding, and another token is refused. */
  async openToken(): Promise<Token> {
    if (this.token) return this.token;
    const db = this.ledger();
    const binding = readBinding(db);
    if (!binding) throw configError(`the ledger in ${this.config.home} is not bound to a token`, { hint: 'run kmsctl init' });
    const embedded = this.config.modulePath === undefined;
    // A ledger bound through a module needs that module again: "no embedded token, run init" would
    // send the operator to make a token this ledger can never use.
    if (embedded && binding.module !== 'embedded') throw boundToModule(binding);
    // The PKCS#11 code loads only here, so list, verify and audit queries never pay for it.
    const [{ Token }, { activateEmbedded, readEmbeddedPin, EMBEDDED_LABEL }, seal] = await Promise.all([import('../token/token.js'), import('../token/embedded.js'), import('../audit/seal.js')]);
    this.ensureAuditKey = seal.ensureAuditKey;
    const modulePath = embedded ? activateEmbedded(this.config.home) : requireModuleFile(this.config.modulePath!);
    // The embedded token is found by its label, so that a ledger copied next to another embedded token
    // is refused as bound elsewhere (78) rather than reported as a missing token (69).
    const sel: TokenSelector = this.config.token ?? (embedded ? { label: EMBEDDED_LABEL } : { serial: binding.serial });
    const token = Token.open(modulePath, sel);
    if (token.info.serial !== binding.serial) {
      token.close();
      throw configError(`this ledger is bound to token "${binding.label}" (serial ${binding.serial}); the selected token is "${token.info.label}" (serial ${token.info.serial})`, {
        reason: 'token-mismatch',
        hint: 'select the bound token, or use another --home for another token',
      });
    }
    this.token = token;
    try {
      const rt = this;
      const pin = await resolvePin({
        env: process.env,
        pinFile: this.config.pinFile,
        embeddedPin: embedded ? readEmbeddedPin(this.config.home) : undefined,
        // Read only when no other PIN source answered.
        get prompt() {
          return rt.interactive ? (m: string) => promptSecret(m) : undefined;
        },
      });
      token.login(pin);
    } catch (e) {
      this.closeToken();
      this.recordFailedLogin(e);
      throw e;
    }
    return token;
  }

  async keyCtx(): Promise<KeyCtx> {
    return { db: this.ledger(), token: await this.openToken(), now: this.now };
  }

  /**
   * Runs an operation on a key with its audit record (success or failure). With a token session the
   * record is sealed at once, together with any record that waited for a seal; the audit key is
   * resolved before the operation runs, so a missing audit key stops it before any key is used.
   */
  async audited<T>(command: string, fn: (scope: AuditScope) => T | Promise<T>): Promise<T> {
    const scope = await this.scopeFor(command);
    const sealer = this.auditSealer();
    return audited(this.ledger(), this.who, command, scope, this.now, () => fn(scope), sealer);
  }

  /** Seals audit records while a token session is open (the first call of a ledger from before seals makes the audit key). */
  auditSealer(): Sealer | undefined {
    if (this.token && !this.auditKey && this.ensureAuditKey) this.auditKey = this.ensureAuditKey(this.ledger(), this.token, { who: this.who, now: this.now });
    return this.auditKey?.sealer;
  }

  /** The active policy's rules for this actor, or null when none is applied: one ledger read, and the policy code loads only then. */
  async policyGate(): Promise<Gate | null> {
    if (this.gate === undefined) {
      this.gate = hasActiveRules(this.ledger()) ? (await import('../policy/gate.js')).openGate(this.ledger(), this.who.actor) : null;
    }
    return this.gate;
  }

  /** A fresh audit scope that checks the active policy on every key the command resolves. */
  async scopeFor(command: string): Promise<AuditScope> {
    const scope = newScope();
    (await this.policyGate())?.guard(command, scope);
    return scope;
  }

  /** The command being run, for records written outside an operation (a failed login). */
  command = '';

  /** The key the command names (its KEY or ALIAS argument), for the same records. */
  keyRef: string | undefined;

  /**
   * A failed login is on the audit trail too (unsealed: there is no session to seal it with), tied to
   * the key the command named, so `audit --key` shows the attempts on that key: the alias as given,
   * and the key id and alias when the ledger knows the key (which needs no token).
   */
  private recordFailedLogin(e: unknown): void {
    if (!(e instanceof KmsError) || !this.command) return;
    try {
      const db = this.ledger();
      const key = this.keyRef === undefined ? undefined : findKey(db, this.keyRef);
      const named = key ? { keyId: key.id, alias: key.alias } : { keyId: null, alias: this.keyRef ?? null };
      appendAudit(db, this.who, [{ command: this.command, ...named, outcome: 'failure', errorCode: e.reason ?? e.code, durationMs: 0, details: { stage: 'login' } }], this.now());
    } catch {
      // The login error is what the operator must see; a busy ledger must not replace it.
    }
  }

  private closeToken(): void {
    const t = this.token;
    this.token = null;
    this.auditKey = null;
    t?.close();
  }

  close(): void {
    this.closeToken();
    const db = this.db;
    this.db = null;
    try {
      db?.close();
    } catch {
      /* closing is best effort on the way out */
    }
  }
}
