import { Chalk } from 'chalk';
import { KmsError, InternalError } from '../errors.js';
import type { CommandResult } from './result.js';
import type { RuntimeFlags } from './runtime.js';

/** The few styles kmsctl paints with. */
export interface Paint {
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const same = (text: string) => text;
const PLAIN: Paint = { green: same, yellow: same, red: same, cyan: same, dim: same, bold: same };

/** Colour where chalk finds a terminal for it; with --json, --no-color or NO_COLOR chalk is not even loaded. */
export function colours(flags: RuntimeFlags): Paint {
  const off = flags.json || flags.color === false || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '');
  return off ? PLAIN : new Chalk();
}

/** States in colour at a terminal: green usable, yellow paused, red on the way out. */
export function paintState(c: Paint, state: string, text = state): string {
  if (state === 'enabled' || state === 'success') return c.green(text);
  if (state === 'disabled') return c.yellow(text);
  return c.red(text);
}

export function renderResult(r: CommandResult, flags: RuntimeFlags): void {
  if (r.batch) return;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ok: true, ...r.data })}\n`);
    return;
  }
  if (flags.quiet) return;
  if (r.bytes) {
    process.stdout.write(r.bytes);
    return;
  }
  if (r.text !== undefined && r.text !== '') process.stdout.write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
}

/** The single place an error becomes output and an exit code: one line on stderr, or one JSON document. */
export function renderError(e: KmsError | InternalError, flags: RuntimeFlags): number {
  const internal = e instanceof InternalError;
  const message = internal
    ? `internal error: ${e.message}. This is a bug in kmsctl; please report it on the kmsctl issue tracker with the command you ran and \`kmsctl --version\``
    : e.message;
  const hint = e instanceof KmsError ? e.hint : undefined;
  if (flags.json) {
    const error: Record<string, unknown> = { code: e.code, message, exitCode: e.exitCode };
    if (e instanceof KmsError && e.reason) error.reason = e.reason;
    if (hint) error.hint = hint;
    const extra = e instanceof KmsError && e.details ? e.details : {};
    process.stdout.write(`${JSON.stringify({ ok: false, ...extra, error })}\n`);
    // Output that cannot be written cannot carry its own error document either: say it on stderr too.
    if (e.code === 'io-error') process.stderr.write(`kmsctl: ${message}\n`);
  } else {
    const c = colours(flags);
    process.stderr.write(`${c.red('kmsctl:')} ${message}${hint ? ` (${hint})` : ''}\n`);
  }
  if (process.env.KMSCTL_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  return e.exitCode;
}
