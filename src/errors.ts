// One error type for everything a user can cause, one for bugs. Library code throws these;
// only src/cli/ turns them into stderr lines, JSON documents and exit codes.

export const EXIT = {
  ok: 0,
  check: 1,
  usage: 64,
  data: 65,
  notFound: 66,
  unavailable: 69,
  internal: 70,
  exists: 73,
  temporary: 75,
  denied: 77,
  config: 78,
  /** sysexits' EX_IOERR: the output could not be written (a full disk, a broken device). */
  io: 74,
  cancelled: 130,
  /** 128 + SIGTERM (15), as a shell reports a process that SIGTERM ended. */
  terminated: 143,
} as const;

export type ErrorCode =
  | 'check-failed'
  | 'usage'
  | 'bad-data'
  | 'not-found'
  | 'unavailable'
  | 'internal'
  | 'exists'
  | 'temporary'
  | 'denied'
  | 'config'
  | 'cancelled'
  | 'terminated'
  | 'io-error';

const EXIT_OF: Record<ErrorCode, number> = {
  'check-failed': EXIT.check,
  usage: EXIT.usage,
  'bad-data': EXIT.data,
  'not-found': EXIT.notFound,
  unavailable: EXIT.unavailable,
  internal: EXIT.internal,
  exists: EXIT.exists,
  temporary: EXIT.temporary,
  denied: EXIT.denied,
  config: EXIT.config,
  cancelled: EXIT.cancelled,
  terminated: EXIT.terminated,
  'io-error': EXIT.io,
};

export interface KmsErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Finer, stable reason for scripts, e.g. "context-mismatch" or "CKR_PIN_INCORRECT". */
  reason?: string;
  /** Structured findings that go with the error into the JSON document (doctor findings, verify breaks). */
  details?: Record<string, unknown>;
}

/** An error the operator can act on: a stable code, an exit code and, where there is one, the next command to run. */
export class KmsError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint?: string;
  readonly reason?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: KmsErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'KmsError';
    this.code = code;
    this.exitCode = EXIT_OF[code];
    this.hint = opts.hint;
    this.reason = opts.reason;
    this.details = opts.details;
  }
}

/** A bug in kmsctl: never the operator's fault; the CLI says where to report it. */
export class InternalError extends Error {
  readonly code = 'internal' as const;
  readonly exitCode = EXIT.internal;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'InternalError';
  }
}

export const usage = (m: string, o?: KmsErrorOptions) => new KmsError('usage', m, o);
export const badData = (m: string, o?: KmsErrorOptions) => new KmsError('bad-data', m, o);
export const notFound = (m: string, o?: KmsErrorOptions) => new KmsError('not-found', m, o);
export const unavailable = (m: string, o?: KmsErrorOptions) => new KmsError('unavailable', m, o);
export const exists = (m: string, o?: KmsErrorOptions) => new KmsError('exists', m, o);
export const temporary = (m: string, o?: KmsErrorOptions) => new KmsError('temporary', m, o);
export const denied = (m: string, o?: KmsErrorOptions) => new KmsError('denied', m, o);
export const configError = (m: string, o?: KmsErrorOptions) => new KmsError('config', m, o);
export const checkFailed = (m: string, o?: KmsErrorOptions) => new KmsError('check-failed', m, o);
export const cancelled = (m: string, o?: KmsErrorOptions) => new KmsError('cancelled', m, o);
export const terminated = (m: string, o?: KmsErrorOptions) => new KmsError('terminated', m, o);
export const ioError = (m: string, o?: KmsErrorOptions) => new KmsError('io-error', m, o);
