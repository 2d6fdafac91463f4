import { startTimer } from '../clock.js';
import { KmsError, InternalError, badData, cancelled, ioError, terminated, usage } from '../errors.js';
import { quote } from '../quote.js';
import { AuditBatch } from '../audit/batch.js';
import type { AuditEntry } from '../audit/append.js';
import type { Runtime } from './runtime.js';
import type { CommandResult } from './result.js';
import { colours } from './render.js';

// Batch mode: JSON Lines in on stdin, one result line out per input line (blank lines are skipped), in
// one process and one token session. A bad line gets an error line with its number and the batch goes
// on; exit 1 at the end if any line failed. Every item is audited (in chunks). The batch stops between
// two items at Ctrl-C, SIGTERM, a closed stdout or an input line over MAX_LINE: what was done before is
// printed (where stdout is still open) and audited, the rest never starts.

/** The longest batch input line: a sign line carries its whole message as base64, so this is generous. */
export const MAX_LINE = 16 * 1024 * 1024;

export interface ItemOutcome {
  out: Record<string, unknown>;
  keyId?: string;
  alias?: string;
  version?: number;
  details?: Record<string, unknown>;
}

export type ItemFn = (input: Record<string, unknown>, line: number) => ItemOutcome;

export function field(input: Record<string, unknown>, name: string, kind: 'string' | 'object', optional = false): any {
  const v = input[name];
  if (v === undefined && optional) return undefined;
  if (kind === 'string' && typeof v !== 'string') throw usage(`field "${name}" must be a string`, { reason: 'bad-batch-line' });
  if (kind === 'object' && (typeof v !== 'object' || v === null || Array.isArray(v))) throw usage(`field "${name}" must be an object`, { reason: 'bad-batch-line' });
  return v;
}

export function base64Field(input: Record<string, unknown>, name: string): Buffer {
  const s = field(input, name, 'string') as string;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw usage(`field "${name}" must be standard base64`, { reason: 'bad-batch-line' });
  return Buffer.from(s, 'base64');
}

export function contextField(input: Record<string, unknown>): Record<string, string> {
  const c = field(input, 'context', 'object', true) as Record<string, unknown> | undefined;
  if (!c) return {};
  for (const [k, v] of Object.entries(c)) if (typeof v !== 'string') throw usage(`context value of ${quote(k)} must be a string`, { reason: 'bad-batch-line' });
  return c as Record<string, string>;
}

class Progress {
  private readonly elapsed = startTimer();
  private last = 0;
  private shown = false;
  constructor(private readonly enabled: boolean, private readonly total?: number) {}
  tick(done: number): void {
    if (!this.enabled) return;
    const t = this.elapsed();
    if (t < 1000 || t - this.last < 100) return;
    this.last = t;
    this.shown = true;
    const rate = Math.round(done / (t / 1000));
    const bar = this.total ? `${'#'.repeat(Math.round((done / this.total) * 30)).padEnd(30, '.')} ${done}/${this.total}` : `${done}`;
    process.stderr.write(`\r${bar} items  ${rate}/s `);
  }
  end(): void {
    if (this.shown) process.stderr.write('\n');
  }
}

function errorLine(e: unknown): Record<string, unknown> {
  if (e instanceof KmsError) return { code: e.code, message: e.message, exitCode: e.exitCode, ...(e.reason ? { reason: e.reason } : {}) };
  const ie = e instanceof InternalError ? e : new InternalError(e instanceof Error ? e.message : String(e), e);
  return { code: ie.code, message: ie.message, exitCode: ie.exitCode };
}

/** A line longer than MAX_LINE: a framing error that ends the input (it has no end to resume after). */
class LineTooLong extends Error {
  constructor(readonly line: number) {
    super(`line ${line} is over ${MAX_LINE} bytes`);
  }
}

/**
 * stdin split into lines of at most MAX_LINE bytes (a CR before the LF is dropped). readline keeps a
 * partial line as one growing string with no bound, so `--batch < /dev/zero` ran it out of memory:
 * here a partial line is held as the chunks it came in, and is given up on at MAX_LINE.
 */
async function* stdinLines(signal: AbortSignal): AsyncGenerator<string> {
  if (process.stdin.isTTY) throw usage('batch mode reads JSON Lines on stdin: pipe them in');
  const input = process.stdin;
  // Ctrl-C (or SIGTERM, or a closed stdout) while waiting for the next chunk ends the input there.
  const stop = () => input.destroy();
  signal.addEventListener('abort', stop, { once: true });
  let parts: Buffer[] = [];
  let pending = 0;
  let n = 0;
  const take = (tail: Buffer): string => {
    let b = parts.length === 0 ? tail : Buffer.concat([...parts, tail], pending + tail.length);
    parts = [];
    pending = 0;
    if (b.length > 0 && b[b.length - 1] === 0x0d) b = b.subarray(0, -1);
    return b.toString('utf8');
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        if (pending + nl - start > MAX_LINE) throw new LineTooLong(n + 1);
        n++;
        yield take(chunk.subarray(start, nl));
        start = nl + 1;
        if (signal.aborted) return;
      }
      if (start < chunk.length) {
        if (pending + chunk.length - start > MAX_LINE) throw new LineTooLong(n + 1);
        parts.push(chunk.subarray(start));
        pending += chunk.length - start;
      }
    }
    // The last line may have no newline.
    if (pending > 0) {
      n++;
      yield take(Buffer.alloc(0));
    }
  } catch (e) {
    // A stream destroyed by the abort may end its iteration with a premature-close error: that is the stop.
    if (signal.aborted && !(e instanceof LineTooLong)) return;
    throw e;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

async function* counted(n: number): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) {
    // Back to the event loop now and then, so that a Ctrl-C is seen during a long --count run.
    if (i % 256 === 255) await new Promise((r) => setImmediate(r));
    yield '{}';
  }
}

/** Result lines are printed only once the audit records of their items are committed. */
const OUT_CHUNK = 256;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

export async function runBatch(rt: Runtime, command: string, fn: ItemFn, opts: { count?: number } = {}): Promise<CommandResult> {
  const audit = new AuditBatch(rt.ledger(), rt.who, rt.now, undefined, rt.auditSealer());
  const progress = new Progress(Boolean(process.stderr.isTTY) && !rt.flags.quiet, opts.count);
  const stopInput = new AbortController();
  const source = opts.count === undefined ? stdinLines(stopInput.signal) : counted(opts.count);
  let line = 0;
  let failed = 0;
  const out: string[] = [];
  // A reader that went away (| head -1): the batch stops between two items rather than making and
  // auditing work nobody reads. A write to a closed pipe destroys stdout at once and reports EPIPE a
  // moment later, so both are looked at.
  // Any other write error (a full disk) stops it too: results nobody can read are not worth making.
  let stdoutClosed = false;
  let stdoutFailed: string | undefined;
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') stdoutFailed ??= e.code ?? e.message;
    stdoutClosed = true;
    stopInput.abort();
  };
  process.stdout.on('error', onStdoutError);
  const flushOut = () => {
    if (out.length && !process.stdout.destroyed) process.stdout.write(out.join(''));
    out.length = 0;
    if (process.stdout.destroyed && !stdoutClosed) onStdoutError({ code: 'EPIPE' } as NodeJS.ErrnoException);
  };
  // Ctrl-C or SIGTERM stops the batch between two items: what was done is audited and printed, the rest never starts.
  let stoppedBy: StopSignal | undefined;
  const onSignal = (sig: StopSignal) => {
    stoppedBy ??= sig;
    stopInput.abort();
  };
  const saved = STOP_SIGNALS.map((sig) => ({ sig, listeners: process.listeners(sig) }));
  for (const sig of STOP_SIGNALS) {
    process.removeAllListeners(sig);
    process.on(sig, onSignal);
  }
  let tooLong: LineTooLong | undefined;
  try {
    for await (const text of source) {
      if (stoppedBy || stdoutClosed) break;
      line++;
      if (opts.count === undefined && text.trim() === '') continue;
      const t0 = startTimer();
      let entry: AuditEntry;
      let use: { keyId: string; version: number } | undefined;
      try {
        let input: unknown;
        try {
          input = JSON.parse(text);
        } catch {
          throw new KmsError('bad-data', 'not a JSON document', { reason: 'bad-batch-line' });
        }
        if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KmsError('bad-data', 'each line must be a JSON object', { reason: 'bad-batch-line' });
        const inObj = input as Record<string, unknown>;
        const r = fn(inObj, line);
        out.push(`${JSON.stringify({ line, ok: true, ...(inObj.id !== undefined ? { id: inObj.id } : {}), ...r.out })}\n`);
        entry = { command, keyId: r.keyId, alias: r.alias, version: r.version, outcome: 'success', durationMs: t0(), details: { batch: true, line, ...r.details } };
        if (r.keyId && r.version) use = { keyId: r.keyId, version: r.version };
      } catch (e) {
        failed++;
        const err = errorLine(e);
        out.push(`${JSON.stringify({ line, ok: false, error: err })}\n`);
        entry = { command, outcome: 'failure', errorCode: String(err.reason ?? err.code), durationMs: t0(), details: { batch: true, line } };
      }
      audit.add(entry, use);
      if (out.length >= OUT_CHUNK) {
        audit.flush();
        flushOut();
      }
      progress.tick(line);
    }
  } catch (e) {
    if (!(e instanceof LineTooLong)) throw e;
    tooLong = e;
  } finally {
    process.stdout.off('error', onStdoutError);
    for (const { sig, listeners } of saved) {
      process.off(sig, onSignal);
      for (const l of listeners) process.on(sig, l as () => void);
    }
    progress.end();
    audit.flush();
    flushOut();
  }
  const ok = audit.count - failed;
  const done = `${ok} ok, ${failed} failed, each printed and audited`;
  if (tooLong) {
    throw badData(`${command} batch: line ${tooLong.line} is over ${MAX_LINE} bytes (16 MiB), the longest a batch line may be: stopped there; ${done}; that line and the ones after it were not started`, { reason: 'batch-line-too-long' });
  }
  if (stoppedBy === 'SIGINT') throw cancelled(`${command} batch cancelled after line ${line}: ${done}; the lines after it were not started`);
  if (stoppedBy === 'SIGTERM') throw terminated(`${command} batch stopped by SIGTERM after line ${line}: ${done}; the lines after it were not started`);
  if (stdoutFailed !== undefined) {
    throw ioError(`cannot write the results to stdout (${stdoutFailed}) after line ${line}: stopped; ${audit.count} done and audited, the results of the last ones lost`, { reason: 'output-not-writable' });
  }
  if (stdoutClosed) {
    // stdout is gone, so this goes to stderr even with --json (whose document would have nowhere to go).
    process.stderr.write(`${colours(rt.flags).red('kmsctl:')} stdout was closed after line ${line}: stopped; ${audit.count} done and audited\n`);
    return { data: {}, batch: true, exitCode: 1 };
  }
  if (!rt.flags.quiet) process.stderr.write(`${command} batch: ${ok} ok, ${failed} failed\n`);
  return { data: {}, batch: true, exitCode: failed > 0 ? 1 : 0 };
}
