import { createInterface } from 'node:readline';
import { startTimer } from '../clock.js';
import { KmsError, InternalError, cancelled, usage } from '../errors.js';
import { AuditBatch } from '../audit/batch.js';
import type { AuditEntry } from '../audit/append.js';
import type { Runtime } from './runtime.js';
import type { CommandResult } from './result.js';

// Batch mode: JSON Lines in on stdin, one result line out per input line, in one process and one token
// session. A bad line gets an error line with its number and the batch goes on; exit 1 at the end if
// any line failed. Every item is audited (in chunks).

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
  for (const [k, v] of Object.entries(c)) if (typeof v !== 'string') throw usage(`context value of "${k}" must be a string`, { reason: 'bad-batch-line' });
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

async function* stdinLines(signal: AbortSignal): AsyncGenerator<string> {
  if (process.stdin.isTTY) throw usage('batch mode reads JSON Lines on stdin: pipe them in');
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  // Ctrl-C while waiting for the next line ends the input there.
  const stop = () => {
    rl.close();
    process.stdin.destroy();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const line of rl) yield line;
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

export async function runBatch(rt: Runtime, command: string, fn: ItemFn, opts: { count?: number } = {}): Promise<CommandResult> {
  const audit = new AuditBatch(rt.ledger(), rt.who, rt.now, undefined, rt.auditSealer());
  const progress = new Progress(Boolean(process.stderr.isTTY) && !rt.flags.quiet, opts.count);
  const stopInput = new AbortController();
  const source = opts.count === undefined ? stdinLines(stopInput.signal) : counted(opts.count);
  let line = 0;
  let failed = 0;
  const out: string[] = [];
  const flushOut = () => {
    if (out.length) process.stdout.write(out.join(''));
    out.length = 0;
  };
  // Ctrl-C stops the batch between two items: what was done is audited and printed, the rest never starts.
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    stopInput.abort();
  };
  const sigintListeners = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', onSigint);
  try {
    for await (const text of source) {
      if (interrupted) break;
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
  } finally {
    process.off('SIGINT', onSigint);
    for (const l of sigintListeners) process.on('SIGINT', l as () => void);
    progress.end();
    audit.flush();
    flushOut();
  }
  const ok = audit.count - failed;
  if (interrupted) throw cancelled(`${command} batch cancelled after line ${line}: ${ok} ok, ${failed} failed, each printed and audited; the lines after it were not started`);
  if (!rt.flags.quiet) process.stderr.write(`${command} batch: ${ok} ok, ${failed} failed\n`);
  return { data: {}, batch: true, exitCode: failed > 0 ? 1 : 0 };
}
